//! Inviting: one or in bulk, with the checks that read first, the email
//! cap and the outbox job written with the invitation.

use super::*;

impl App {
    /// Checks everything about a new invitation that needs the store, and
    /// builds what to write.
    pub(super) async fn prepare_invitation(
        &self,
        principal: &Principal,
        request: InvitationRequest,
        now: OffsetDateTime,
    ) -> Result<(NewInvitationRecord, Option<Secret>), AppError> {
        let context = self
            .ports
            .store
            .invitations()
            .invitation_context(principal.business.id, &request.email)
            .await?;
        self.build_invitation(principal, request, context, now).await
    }

    /// Applies the rules that need the store's answers (`context`), and
    /// builds what to write.
    pub(super) async fn build_invitation(
        &self,
        principal: &Principal,
        request: InvitationRequest,
        context: InvitationContext,
        now: OffsetDateTime,
    ) -> Result<(NewInvitationRecord, Option<Secret>), AppError> {
        let InvitationContext {
            invitee,
            connected,
            pending,
            suppressed,
        } = context;
        let mut request = request;
        self.check_redirect(&request)?;
        request.locale.get_or_insert(self.settings.default_locale);
        let facts = InviteFacts {
            sender: principal.business.id,
            invitee_business: invitee.as_ref().map(|user| user.business_id),
            connected,
            suppressed,
            pending: pending.as_ref(),
        };
        check_invite(&facts, now).map_err(|refusal| match refusal {
            InviteRefusal::SelfInvite => AppError::SelfInvite,
            InviteRefusal::AlreadyConnected => AppError::AlreadyConnected,
            InviteRefusal::RecipientOptedOut => AppError::RecipientOptedOut,
            InviteRefusal::AlreadyInvited => AppError::AlreadyInvited,
        })?;
        if let Some(existing) = pending {
            // Lazily expired: persist the expiry so the email can be invited again.
            self.persist_expiry(&existing, now).await?;
        }
        let send_email = request.send_email;
        let invitation = Invitation::new(
            InvitationId::from_uuid(self.new_id()),
            principal.business.id,
            principal.user.id,
            request,
            now,
        )
        .with_invitee_business(invitee.map(|u| u.business_id));
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
    pub(super) fn check_redirect(&self, request: &InvitationRequest) -> Result<(), AppError> {
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

    pub(super) fn email_job(&self, invitation: &Invitation, token: Secret, now: OffsetDateTime) -> EmailJob {
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
        }
    }

    /// How many more emails `business` may queue at `now` (`None`: no cap),
    /// and the error to refuse one more with.
    pub(super) async fn email_allowance(
        &self,
        business: BusinessId,
        now: OffsetDateTime,
    ) -> Result<Option<(u64, AppError)>, AppError> {
        let cap = u64::from(self.settings.emails_per_hour);
        if cap == 0 {
            return Ok(None);
        }
        let queued = self
            .ports
            .store
            .outbox()
            .emails_queued_since(business, now - EMAIL_CAP_WINDOW)
            .await?;
        // The oldest email leaves the window (which includes its start) just
        // after `oldest + 1 h`: one second more than the whole seconds left.
        let wait = queued
            .oldest
            .map_or(Duration::ZERO, |oldest| oldest + EMAIL_CAP_WINDOW - now);
        let retry_after_secs = u64::try_from(wait.whole_seconds()).unwrap_or(0) + 1;
        Ok(Some((
            cap.saturating_sub(queued.count),
            AppError::QuotaExceeded { retry_after_secs },
        )))
    }

    /// Refuses one more email from `business` when its cap is reached.
    pub(super) async fn check_email_cap(&self, business: BusinessId, now: OffsetDateTime) -> Result<(), AppError> {
        match self.email_allowance(business, now).await? {
            Some((0, refusal)) => Err(refusal),
            _ => Ok(()),
        }
    }

    pub(super) async fn persist_expiry(&self, invitation: &Invitation, now: OffsetDateTime) -> Result<bool, AppError> {
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
        let (record, link_token) = self.prepare_invitation(principal, request, now).await?;
        if record.email_job.is_some() {
            self.check_email_cap(principal.business.id, now).await?;
        }
        self.ports.store.invitations().insert_invitation(&record).await?;
        Ok(CreatedInvitation {
            invitation: record.invitation,
            link_token,
        })
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
            .accounts()
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
        let suppressed: HashSet<String> = store
            .opt_outs()
            .suppressions_for(principal.business.id, &emails)
            .await?
            .into_iter()
            .map(|s| s.email.normalized().to_owned())
            .collect();
        let mut prepared = Vec::new();
        for (index, request) in valid {
            let key = request.email.normalized().to_owned();
            let invitee = users.get(&key).cloned();
            let context = InvitationContext {
                connected: invitee.as_ref().is_some_and(|u| connected.contains(&u.business_id)),
                invitee,
                pending: pending.remove(&key),
                suppressed: suppressed.contains(&key),
            };
            match self.build_invitation(principal, request, context, now).await {
                Ok(ready) => prepared.push((index, ready)),
                Err(error @ AppError::Unavailable(_)) => return Err(error),
                Err(error) => failed.push(BulkFailure { index, error }),
            }
        }
        let sends_email = prepared.iter().any(|(_, (record, _))| record.email_job.is_some());
        if sends_email && let Some((mut remaining, refusal)) = self.email_allowance(principal.business.id, now).await? {
            // Request order decides which items fit under the cap.
            prepared.retain(|(index, (record, _))| {
                if record.email_job.is_none() {
                    return true;
                }
                if remaining == 0 {
                    failed.push(BulkFailure {
                        index: *index,
                        error: refusal.clone(),
                    });
                    return false;
                }
                remaining -= 1;
                true
            });
        }
        let records: Vec<NewInvitationRecord> = prepared.iter().map(|(_, (record, _))| record.clone()).collect();
        let results = self.ports.store.invitations().insert_invitations(&records).await?;
        let mut successful = Vec::with_capacity(records.len());
        for ((index, (record, link_token)), result) in prepared.into_iter().zip(results) {
            match result {
                Ok(()) => successful.push(CreatedInvitation {
                    invitation: record.invitation,
                    link_token,
                }),
                Err(error) => failed.push(BulkFailure {
                    index,
                    error: error.into(),
                }),
            }
        }
        failed.sort_by_key(|f| f.index);
        Ok(BulkOutcome { successful, failed })
    }
}
