//! The port methods of invitations: inserts, reads, lists, transitions, resends.

#[allow(clippy::wildcard_imports)]
use super::*;
use diesel::sql_types::Array;

pub(super) mod create_call;
mod reminders;
pub(super) mod rows;

/// A business's pending invitations to any of `$2` (normalized addresses),
/// on PostgreSQL: one lookup in `invitations_one_pending_per_email` per
/// address. The `LIMIT 1` (the index is unique) keeps the subquery from
/// being flattened into a join, so the plan cannot become "every pending
/// invitation of the business, filtered by `= ANY($2)`": the plan the
/// planner chose for `email_normalized = ANY($2)` while the table had no
/// statistics, which read all of them (153 ms per bulk of 1,000 with
/// 126,000 pending, growing with the business's volume).
const PENDING_FOR_EMAILS: &str = "SELECT i.* FROM unnest($2::text[]) AS wanted (email_normalized) \
     CROSS JOIN LATERAL (SELECT * FROM invitations \
     WHERE invitations.business_id = $1 AND invitations.email_normalized = wanted.email_normalized \
     AND invitations.status = 'pending' LIMIT 1) AS i";

/// The facts of a new invitation from `business` to `normalized`, as
/// [`CreateOutcome::Refused`] reports them.
fn facts(conn: &mut DbConnection, business: &str, normalized: &str) -> Unit<InvitationContext> {
    let row = context::read(conn, business, normalized)?;
    let pending = if row.pending {
        // Rare (the answer is `already_invited` or a lazy expiry): a second read.
        invitations::table
            .filter(invitations::business_id.eq(business))
            .filter(invitations::email_normalized.eq(normalized))
            .filter(stored_pending())
            .select(StoredInvitationRow::as_select())
            .first(conn)
            .optional()?
            .map(StoredInvitationRow::into_domain)
            .transpose()?
    } else {
        None
    };
    Ok(InvitationContext {
        invitee: row.invitee.map(UserRow::into_domain).transpose()?,
        connected: row.connected,
        pending,
        suppressed: row
            .suppressed
            .map(|reason| {
                rsvp_domain::SuppressionReason::parse(&reason)
                    .ok_or_else(|| crate::rows::corrupt("suppressions.reason", format!("unknown reason {reason:?}")))
            })
            .transpose()?,
    })
}

#[async_trait]
impl InvitationStore for DieselStore {
    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        let business = id_text(business.as_uuid());
        self.run(op::FIND_PENDING_FOR_EMAILS, move |conn| {
            let rows: Vec<StoredInvitationRow> = match conn {
                // One probe of the pending index per address, whatever the
                // planner knows: see `PENDING_FOR_EMAILS`.
                DbConnection::Pg(pg) => diesel::sql_query(PENDING_FOR_EMAILS)
                    .bind::<Text, _>(&business)
                    .bind::<Array<Text>, _>(&normalized)
                    .load(pg)?,
                DbConnection::Sqlite(_) => invitations::table
                    .filter(invitations::business_id.eq(&business))
                    .filter(invitations::email_normalized.eq_any(&normalized))
                    .filter(stored_pending())
                    .select(StoredInvitationRow::as_select())
                    .load(conn)?,
            };
            Ok(rows
                .into_iter()
                .map(StoredInvitationRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn create_invitation(
        &self,
        record: &NewInvitationRecord,
        cap: Option<EmailCap>,
    ) -> Result<CreateOutcome, StoreError> {
        let sender = record.invitation.business_id();
        let mut rows = NewInvitationRows::from_domain(record)?;
        let minute = record
            .email_job
            .as_ref()
            .map_or(0, |job| EmailCap::minute_of(job.created_at));
        let job_id = record.email_job.as_ref().map(|job| id_text(job.id.as_uuid()));
        let outcome = self
            .run(op::CREATE_INVITATION, move |conn| {
                let business = rows.invitation.business_id.clone();
                let normalized = rows.invitation.email_normalized.clone();
                if let DbConnection::Pg(pg) = conn {
                    // One round trip: the procedure checks, counts and writes.
                    let call = CallCreateInvitation::new(
                        &rows.invitation,
                        &rows.link,
                        &rows.event,
                        rows.job.as_ref(),
                        cap,
                        minute,
                    );
                    return match call.execute_on(pg)? {
                        CallOutcome::Created(invitee) => Ok(CreateOutcome::Created {
                            invitee_business: invitee
                                .map(|id| crate::rows::parse_id("users.business_id", &id))
                                .transpose()?,
                        }),
                        CallOutcome::Refused => Ok(CreateOutcome::Refused(facts(conn, &business, &normalized)?)),
                        CallOutcome::Capped(oldest) => Err(StoreError::EmailCapReached {
                            retry_at: EmailCap::leaves_window_at(oldest),
                        }
                        .into()),
                    };
                }
                // SQLite: one unit on the one writer.
                write_unit(conn, |conn| {
                    let context = facts(conn, &business, &normalized)?;
                    if context.may_refuse(sender) {
                        return Ok(CreateOutcome::Refused(context));
                    }
                    let invitee_business = context.invitee.as_ref().map(|user| user.business_id);
                    let capped = cap.filter(|_| rows.job.is_some());
                    if let Some(cap) = capped {
                        let (room, refusal) = email_cap::room(conn, &business, cap, minute)?;
                        if room == 0 {
                            return Err(refusal.into());
                        }
                    }
                    let invitee_text = invitee_business.map(|b| id_text(b.as_uuid()));
                    rows.invitation.invitee_business_id.clone_from(&invitee_text);
                    rows.event.invitee_business_id = invitee_text;
                    rows.insert(conn)?;
                    if capped.is_some() {
                        email_cap::count(conn, &business, minute, 1)?;
                    }
                    Ok(CreateOutcome::Created { invitee_business })
                })
            })
            .await;
        if let (Ok(CreateOutcome::Created { .. }), Some(id)) = (&outcome, job_id) {
            self.hint_email_jobs([id]);
        }
        outcome
    }

    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
        cap: Option<EmailCap>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // Key-ordered, one transaction; on PostgreSQL a statement per chunk
        // of items, on SQLite a savepoint per item (`bulk.rs`).
        let batch = bulk::Batch::new(records, cap);
        let outcomes = self.run(op::INSERT_INVITATIONS, move |conn| batch.insert(conn)).await;
        if let Ok(outcomes) = &outcomes {
            let queued = records.iter().zip(outcomes).filter(|(_, outcome)| outcome.is_ok());
            self.hint_email_jobs(
                queued.filter_map(|(record, _)| Some(id_text(record.email_job.as_ref()?.id.as_uuid()))),
            );
        }
        outcomes
    }

    async fn get_invitations(&self, ids: &[InvitationId]) -> Result<Vec<Invitation>, StoreError> {
        let mut ids: Vec<String> = ids.iter().map(|id| id_text(id.as_uuid())).collect();
        ids.sort_unstable();
        ids.dedup();
        self.run(op::GET_INVITATIONS, move |conn| {
            let mut found = Vec::with_capacity(ids.len());
            // Bounded IN lists: SQLite caps bound parameters per statement.
            for chunk in ids.chunks(500) {
                let rows = invitations::table
                    .filter(invitations::id.eq_any(chunk))
                    .select(StoredInvitationRow::as_select())
                    .load(conn)?;
                found.extend(rows_into(rows, StoredInvitationRow::into_domain)?);
            }
            Ok(found)
        })
        .await
    }

    async fn get_invitation(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_INVITATION, move |conn| {
            Ok(get_invitation_row(conn, &id)?
                .map(StoredInvitationRow::into_domain)
                .transpose()?)
        })
        .await
    }

    async fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Result<Page<Invitation>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = query.clone();
        self.run(op::LIST_SENT, move |conn| {
            let base = invitations::table
                .filter(invitations::business_id.eq(business))
                .into_boxed::<MultiBackend>();
            load_invitation_page(conn, base, &query)
        })
        .await
    }

    async fn list_received(
        &self,
        business: BusinessId,
        query: &InvitationQuery,
    ) -> Result<Page<Invitation>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = query.clone();
        self.run(op::LIST_RECEIVED, move |conn| {
            let emails = users::table
                .filter(users::business_id.eq(business))
                .select(users::email_normalized);
            let base = invitations::table
                .filter(invitations::email_normalized.eq_any(emails))
                .filter(invitations::status.ne(InvitationStatus::Cancelled.as_str()))
                .into_boxed::<MultiBackend>();
            load_invitation_page(conn, base, &query)
        })
        .await
    }

    async fn apply_transition(&self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        let after = &record.invitation;
        let id = id_text(after.id().as_uuid());
        let expected = record.expected.as_str();
        let new_status = after.status().as_str();
        let expiring = after.status() == InvitationStatus::Expired;
        let now = bound_nanos(record.now);
        let read_at = record.now;
        let updated_at = to_nanos(after.updated_at())?;
        let resolved_at = after.resolved_at().map(to_nanos).transpose()?;
        let invitee_business = after.invitee_business_id().map(|b| id_text(b.as_uuid()));
        let event = EventRow::from_domain(&record.event)?;
        let connection = match &record.connection {
            Some((connection, created)) => Some((
                connection.clone(),
                ConnectionRow::from_domain(connection)?,
                EventRow::from_domain(created)?,
            )),
            None => None,
        };
        let new_invitee = match &record.new_invitee {
            Some(new) => Some((
                BusinessRow::from_domain(&new.business)?,
                UserRow::from_domain(&new.user)?,
            )),
            None => None,
        };
        let job = record
            .email_job
            .as_ref()
            .map(|job| EmailJobRow::from_domain(job, after.business_id()))
            .transpose()?;
        self.run(op::APPLY_TRANSITION, move |conn| {
            write_unit(conn, |conn| {
                use crate::schema::invitations::dsl as i;
                if let Some((business, _)) = &new_invitee {
                    // First, so that the invitation may point at it.
                    diesel::insert_into(businesses::table).values(business).execute(conn)?;
                }
                let mut target = diesel::update(i::invitations)
                    .filter(i::id.eq(id.clone()))
                    .filter(i::status.eq(expected))
                    .into_boxed();
                if !expiring {
                    target = target.filter(i::expires_at.gt(now));
                }
                let changed = target
                    .set((
                        i::status.eq(new_status),
                        i::updated_at.eq(updated_at),
                        i::resolved_at.eq(resolved_at),
                        i::invitee_business_id.eq(coalesce(invitee_business.clone(), i::invitee_business_id)),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    return Err(match get_invitation_row(conn, &id)? {
                        None => StoreError::NotFound,
                        Some(row) => StoreError::Conflict {
                            current: row.into_domain()?.status_at(read_at),
                        },
                    }
                    .into());
                }
                if let Some((_, user)) = &new_invitee {
                    diesel::insert_into(users::table)
                        .values(user)
                        .execute(conn)
                        .map_err(unique_is(StoreError::EmailTaken))?;
                }
                webhooks::insert_event(conn, &event)?;
                if let Some(job) = &job {
                    diesel::insert_into(email_jobs::table).values(job).execute(conn)?;
                }
                let connection = match &connection {
                    None => None,
                    Some((domain, row, created)) => {
                        let inserted = match &mut *conn {
                            DbConnection::Pg(pg) => diesel::insert_into(connections::table)
                                .values(row)
                                .on_conflict_do_nothing()
                                .execute(pg)?,
                            DbConnection::Sqlite(lite) => diesel::insert_into(connections::table)
                                .values(row)
                                .on_conflict_do_nothing()
                                .execute(lite)?,
                        };
                        if inserted == 1 {
                            webhooks::insert_event(conn, created)?;
                            Some(domain.clone())
                        } else {
                            let existing: ConnectionRow = connections::table
                                .filter(connections::business_low.eq(&row.business_low))
                                .filter(connections::business_high.eq(&row.business_high))
                                .select(ConnectionRow::as_select())
                                .first(conn)?;
                            Some(existing.into_domain()?)
                        }
                    }
                };
                Ok(TransitionOutcome {
                    invitation: stored_invitation(conn, &id)?,
                    connection,
                })
            })
        })
        .await
    }

    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        let id = id_text(record.invitation_id.as_uuid());
        let read_at = record.now;
        let now = to_nanos(record.now)?;
        let not_sent_after_time = record.not_sent_after;
        let not_sent_after = bound_nanos(record.not_sent_after);
        let revoke = record.revoke_previous_links;
        let link = LinkTokenRow::from_domain(&record.link)?;
        let event = EventRow::from_domain(&record.event)?;
        // The resent event names the sending business, whose cap the job counts against.
        let job = EmailJobRow::from_domain(&record.email_job, record.event.business_id)?;
        let cap = record.email_cap;
        let minute = EmailCap::minute_of(record.email_job.created_at);
        self.run(op::RECORD_RESEND, move |conn| {
            write_unit(conn, |conn| {
                use crate::schema::invitations::dsl as i;
                if let Some(cap) = cap {
                    let (room, refusal) = email_cap::room(conn, &job.business_id, cap, minute)?;
                    if room == 0 {
                        return Err(refusal.into());
                    }
                }
                let changed = diesel::update(i::invitations)
                    .filter(i::id.eq(&id))
                    .filter(i::status.eq(InvitationStatus::Pending.as_str()))
                    .filter(i::expires_at.gt(now))
                    .filter(i::last_sent_at.is_null().or(i::last_sent_at.le(not_sent_after)))
                    .set((
                        i::last_sent_at.eq(now),
                        i::email_delivery.eq("queued"),
                        // The provider's report was on the previous email.
                        i::email_feedback.eq(None::<String>),
                        i::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    let Some(row) = get_invitation_row(conn, &id)? else {
                        return Err(StoreError::NotFound.into());
                    };
                    let invitation = row.into_domain()?;
                    let current = invitation.status_at(read_at);
                    return Err(match invitation.last_sent_at() {
                        _ if current != InvitationStatus::Pending => StoreError::Conflict { current },
                        Some(last_sent_at) if last_sent_at > not_sent_after_time => {
                            StoreError::Cooldown { last_sent_at }
                        }
                        _ => StoreError::Unavailable(format!("the resend of invitation {id} matched no row")),
                    }
                    .into());
                }
                if revoke {
                    diesel::update(link_tokens::table)
                        .filter(link_tokens::invitation_id.eq(&id))
                        .filter(link_tokens::revoked_at.is_null())
                        .set(link_tokens::revoked_at.eq(now))
                        .execute(conn)?;
                }
                diesel::insert_into(link_tokens::table).values(&link).execute(conn)?;
                webhooks::insert_event(conn, &event)?;
                diesel::insert_into(email_jobs::table).values(&job).execute(conn)?;
                if cap.is_some() {
                    email_cap::count(conn, &job.business_id, minute, 1)?;
                }
                stored_invitation(conn, &id)
            })
        })
        .await
    }

    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError> {
        let hash = token_hash.to_hex();
        self.run(op::FIND_INVITATION_BY_LINK, move |conn| {
            let row = link_tokens::table
                .inner_join(invitations::table)
                .filter(link_tokens::token_hash.eq(&hash))
                .filter(link_tokens::revoked_at.is_null())
                .select(StoredInvitationRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(StoredInvitationRow::into_domain).transpose()?)
        })
        .await
    }

    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError> {
        let now = bound_nanos(now);
        let limit = saturating_limit(limit);
        self.run(op::DUE_FOR_EXPIRY, move |conn| {
            let rows = invitations::table
                .filter(stored_pending())
                .filter(invitations::expires_at.le(now))
                .order((invitations::expires_at.asc(), invitations::id.asc()))
                .limit(limit)
                .select(StoredInvitationRow::as_select())
                .load(conn)?;
            rows_into(rows, StoredInvitationRow::into_domain)
        })
        .await
    }

    async fn due_for_reminder(&self, query: &rsvp_app::ReminderQuery) -> Result<Vec<Invitation>, StoreError> {
        let query = reminders::DueQuery::new(query);
        self.run(op::DUE_FOR_REMINDER, move |conn| query.load(conn)).await
    }

    async fn record_reminder(&self, record: &rsvp_app::ReminderRecord) -> Result<Option<Invitation>, StoreError> {
        let rows = reminders::ReminderRows::from_domain(record)?;
        self.run(op::RECORD_REMINDER, move |conn| {
            write_unit(conn, |conn| rows.record(conn))
        })
        .await
    }
}
