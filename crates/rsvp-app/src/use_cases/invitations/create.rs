//! Inviting: one or in bulk, with the checks that read first, the email
//! cap and the outbox job written with the invitation.

use super::*;

/// How many times a create is tried when a lazily expired pending
/// invitation stands in the way (each try persists one expiry).
const CREATE_ATTEMPTS: usize = 3;

impl App {
    /// Decides a new invitation from the facts the store found (`context`):
    /// the domain's refusal, or the pending invitation that is lazily
    /// expired and must be persisted as such before the email can be
    /// invited again (`Ok(Some)`), or nothing in the way (`Ok(None)`).
    pub(crate) fn check_facts(
        principal: &Principal,
        context: InvitationContext,
        now: OffsetDateTime,
    ) -> Result<Option<Invitation>, AppError> {
        let InvitationContext {
            invitee,
            connected,
            pending,
            suppressed,
        } = context;
        let facts = InviteFacts {
            sender: principal.business.id,
            invitee_business: invitee.as_ref().map(|user| user.business_id),
            connected,
            suppressed,
            pending: pending.as_ref(),
        };
        check_invite(&facts, now).map_err(Self::refused)?;
        Ok(pending)
    }

    /// The answer to a refused invitation.
    pub(crate) fn refused(refusal: InviteRefusal) -> AppError {
        match refusal {
            InviteRefusal::SelfInvite => AppError::SelfInvite,
            InviteRefusal::AlreadyConnected => AppError::AlreadyConnected,
            InviteRefusal::RecipientOptedOut => AppError::RecipientOptedOut,
            InviteRefusal::RecipientSuppressed => AppError::RecipientSuppressed,
            InviteRefusal::AlreadyInvited => AppError::AlreadyInvited,
        }
    }

    /// Builds what a new invitation writes (the rules that need no store
    /// are checked here; those that do, by the store's facts).
    pub(crate) fn build_invitation(
        &self,
        principal: &Principal,
        request: InvitationRequest,
        invitee_business: Option<BusinessId>,
        now: OffsetDateTime,
    ) -> Result<(NewInvitationRecord, Option<Secret>), AppError> {
        let mut request = request;
        self.check_redirect(&request)?;
        request.locale.get_or_insert(self.settings.default_locale);
        let send_email = request.send_email;
        let invitation = Invitation::new(
            InvitationId::from_uuid(self.new_id()),
            principal.business.id,
            principal.user.id,
            request,
            now,
        )
        .with_invitee_business(invitee_business);
        let token = self.ports.secrets.generate();
        let link = LinkTokenRecord {
            hash: self.ports.secrets.hash(token.expose()),
            invitation_id: invitation.id(),
            created_at: now,
        };
        let event = Event::created(
            EventId::from_uuid(self.new_id()),
            &invitation,
            Actor::Sender {
                user_id: principal.user.id,
            },
        );
        let (email_job, shown_token) = if send_email {
            (Some(self.email_job(&invitation, token, now)), None)
        } else {
            (None, Some(token))
        };
        Ok((
            NewInvitationRecord {
                invitation,
                link,
                event,
                email_job,
            },
            shown_token,
        ))
    }

    /// Refuses a `redirect_url` whose origin is not among the allowed ones.
    pub(crate) fn check_redirect(&self, request: &InvitationRequest) -> Result<(), AppError> {
        let Some(url) = &request.redirect_url else {
            return Ok(());
        };
        if self.settings.redirect_origins.iter().any(|o| o == url.origin()) {
            return Ok(());
        }
        let message = if self.settings.redirect_origins.is_empty() {
            "redirect_url is not allowed: this server allows no redirect origins (RSVP_REDIRECT_ORIGINS)".to_owned()
        } else {
            format!(
                "the origin {} of redirect_url is not allowed; allowed: {}",
                url.origin(),
                self.settings.redirect_origins.join(", ")
            )
        };
        Err(AppError::field("redirect_url", "origin_not_allowed", &message))
    }

    pub(crate) fn email_job(&self, invitation: &Invitation, token: Secret, now: OffsetDateTime) -> EmailJob {
        EmailJob {
            id: EmailJobId::from_uuid(self.new_id()),
            invitation_id: invitation.id(),
            to: invitation.email().clone(),
            link_token: Some(token),
            attempts: 0,
            status: EmailJobStatus::Queued,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            kind: EmailKind::Invitation,
        }
    }

    /// The cap on the emails one business queues (`None`: no cap).
    pub(crate) fn email_cap(&self) -> Option<EmailCap> {
        (self.settings.emails_per_hour > 0).then_some(EmailCap {
            limit: self.settings.emails_per_hour,
        })
    }

    /// The answer to a store error at `now`: the cap's refusal says how
    /// long to wait.
    pub(crate) fn store_refused(error: StoreError, now: OffsetDateTime) -> AppError {
        match error {
            StoreError::EmailCapReached { retry_at } => AppError::QuotaExceeded {
                retry_after_secs: retry_after_secs(retry_at, now),
            },
            other => other.into(),
        }
    }

    pub(crate) async fn persist_expiry(&self, invitation: &Invitation, now: OffsetDateTime) -> Result<bool, AppError> {
        self.persist_expiry_notifying(invitation, now, &mut HashMap::new())
            .await
    }

    /// Persists the expiry with the notice to its sender (whose address is
    /// read once per sweep, through `senders`): written only by the unit
    /// that wins the expiry, so once per invitation.
    pub(crate) async fn persist_expiry_notifying(
        &self,
        invitation: &Invitation,
        now: OffsetDateTime,
        senders: &mut super::reminders::Senders,
    ) -> Result<bool, AppError> {
        let Ok(expired) = invitation.expire(now) else {
            return Ok(false);
        };
        let Some(event) = Event::transition(EventId::from_uuid(self.new_id()), invitation, &expired, Actor::System)
        else {
            return Ok(false);
        };
        let record = TransitionRecord {
            invitation: expired,
            expected: invitation.status(),
            now,
            event,
            connection: None,
            new_invitee: None,
            email_job: self.expiry_notice(invitation, now, senders).await?,
        };
        match self.ports.store.invitations().apply_transition(&record).await {
            Ok(_) => Ok(true),
            // Someone else (a sweeper, an answer) got there first: fine.
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Invites an email on behalf of the caller's business.
    ///
    /// # Errors
    /// [`AppError::SelfInvite`], [`AppError::AlreadyConnected`],
    /// [`AppError::AlreadyInvited`]; [`AppError::QuotaExceeded`] when the
    /// invitation would send an email past the business's hourly cap.
    pub async fn invite(
        &self,
        principal: &Principal,
        request: InvitationRequest,
    ) -> Result<CreatedInvitation, AppError> {
        let now = self.now();
        let (record, link_token) = self.build_invitation(principal, request, None, now)?;
        let cap = self.email_cap();
        // One store call when nothing is in the way. A refusal's facts are
        // decided by the domain; a lazily expired pending invitation is
        // persisted as expired and the create tried again (a racing create
        // may take its place, hence a bound).
        for _ in 0..CREATE_ATTEMPTS {
            let outcome = self
                .ports
                .store
                .invitations()
                .create_invitation(&record, cap)
                .await
                .map_err(|error| Self::store_refused(error, now))?;
            match outcome {
                CreateOutcome::Created { invitee_business } => {
                    return Ok(CreatedInvitation {
                        invitation: record.with_invitee_business(invitee_business).invitation,
                        link_token,
                    });
                }
                CreateOutcome::Refused(context) => {
                    if let Some(expired) = Self::check_facts(principal, context, now)? {
                        self.persist_expiry(&expired, now).await?;
                    }
                }
            }
        }
        Err(AppError::AlreadyInvited)
    }

    /// Invites many emails; each item succeeds or fails on its own. Items
    /// that failed validation come in as `Err` and are reported as they are.
    ///
    /// Items that would send an email past the business's hourly cap fail
    /// with [`AppError::QuotaExceeded`]; the earlier ones (in request order)
    /// that fit under it go through.
    ///
    /// # Errors
    /// [`AppError::Validation`] on `invitations` when there are more than
    /// [`MAX_BULK_INVITATIONS`] items or none; otherwise only store failures.
    pub async fn bulk_invite(
        &self,
        principal: &Principal,
        items: Vec<Result<InvitationRequest, ValidationErrors>>,
    ) -> Result<BulkOutcome, AppError> {
        if items.is_empty() || items.len() > MAX_BULK_INVITATIONS {
            return Err(AppError::field(
                "invitations",
                "out_of_range",
                "invitations must hold 1 to 1000 items",
            ));
        }
        let now = self.now();
        let mut failed = Vec::new();
        let mut valid = Vec::new();
        let mut seen = HashSet::new();
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Err(errors) => failed.push(BulkFailure {
                    index,
                    error: AppError::Validation(errors),
                }),
                Ok(request) if !seen.insert(request.email.normalized().to_owned()) => {
                    failed.push(BulkFailure {
                        index,
                        error: AppError::DuplicateInRequest,
                    });
                }
                Ok(request) => valid.push((index, request)),
            }
        }
        // Four reads for the whole batch, not four per item.
        let store = &self.ports.store;
        let emails: Vec<EmailAddress> = valid.iter().map(|(_, r)| r.email.clone()).collect();
        let users: HashMap<String, User> = store
            .operator()
            .find_users_by_emails(&emails)
            .await?
            .into_iter()
            .map(|u| (u.email.normalized().to_owned(), u))
            .collect();
        let mut others: Vec<BusinessId> = users
            .values()
            .map(|u| u.business_id)
            .filter(|b| *b != principal.business.id)
            .collect();
        others.sort();
        others.dedup();
        let connected: HashSet<BusinessId> = store
            .network()
            .connected_among(principal.business.id, &others)
            .await?
            .into_iter()
            .collect();
        let mut pending: HashMap<String, Invitation> = store
            .invitations()
            .find_pending_for_emails(principal.business.id, &emails)
            .await?
            .into_iter()
            .map(|i| (i.email().normalized().to_owned(), i))
            .collect();
        let suppressed: HashMap<String, SuppressionReason> = store
            .opt_outs()
            .suppressions_for(principal.business.id, &emails)
            .await?
            .into_iter()
            .fold(HashMap::new(), |mut reasons, s| {
                let key = s.email.normalized().to_owned();
                let strongest = SuppressionReason::strongest(reasons.get(&key).copied().into_iter().chain([s.reason]));
                if let Some(reason) = strongest {
                    reasons.insert(key, reason);
                }
                reasons
            });
        let mut prepared = Vec::new();
        for (index, request) in valid {
            let key = request.email.normalized().to_owned();
            let invitee = users.get(&key).cloned();
            let invitee_business = invitee.as_ref().map(|u| u.business_id);
            let context = InvitationContext {
                connected: invitee_business.is_some_and(|b| connected.contains(&b)),
                invitee,
                pending: pending.remove(&key),
                suppressed: suppressed.get(&key).copied(),
            };
            let ready = Self::check_facts(principal, context, now).and_then(|expired| {
                let ready = self.build_invitation(principal, request, invitee_business, now)?;
                Ok((expired, ready))
            });
            match ready {
                Ok((expired, ready)) => {
                    if let Some(expired) = expired {
                        // Lazily expired: persist the expiry so the email can be invited again.
                        self.persist_expiry(&expired, now).await?;
                    }
                    prepared.push((index, ready));
                }
                Err(error) => failed.push(BulkFailure { index, error }),
            }
        }
        let records: Vec<NewInvitationRecord> = prepared.iter().map(|(_, (record, _))| record.clone()).collect();
        // The cap is counted by the store, with the writes, in request order.
        let results = self
            .ports
            .store
            .invitations()
            .insert_invitations(&records, self.email_cap())
            .await?;
        let mut successful = Vec::with_capacity(records.len());
        for ((index, (record, link_token)), result) in prepared.into_iter().zip(results) {
            match result {
                Ok(()) => successful.push(CreatedInvitation {
                    invitation: record.invitation,
                    link_token,
                }),
                Err(error) => failed.push(BulkFailure {
                    index,
                    error: Self::store_refused(error, now),
                }),
            }
        }
        failed.sort_by_key(|f| f.index);
        Ok(BulkOutcome { successful, failed })
    }
}
