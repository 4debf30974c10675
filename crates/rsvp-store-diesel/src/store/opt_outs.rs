//! The [`rsvp_app::OptOutStore`] role of [`DieselStore`]: opt-outs (suppressions) and the erasure of a person's data.

#[allow(clippy::wildcard_imports)]
use super::*;

#[async_trait]
impl OptOutStore for DieselStore {
    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError> {
        let normalized = email.normalized().to_owned();
        self.run(op::INVITATIONS_TO_EMAIL, move |conn| {
            read_unit(conn, |conn| {
                // invitations_received_keyset_idx leads with email_normalized.
                let rows: Vec<StoredInvitationRow> = invitations::table
                    .filter(invitations::email_normalized.eq(&normalized))
                    .select(StoredInvitationRow::as_select())
                    .load(conn)?;
                rows_into(rows, StoredInvitationRow::into_domain)
            })
        })
        .await
    }

    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError> {
        if record.invitations.is_empty() {
            return Ok(ErasureCounts::default());
        }
        let normalized = record.email.normalized().to_owned();
        let now = to_nanos(record.now)?;
        let items = record
            .invitations
            .iter()
            .map(|item| {
                Ok((
                    item.expected.as_str(),
                    item.resolves(),
                    InvitationRow::from_domain(&item.invitation)?,
                    EventRow::from_domain(&item.event)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.run(op::ERASE_INVITATIONS, move |conn| {
            write_unit(conn, |conn| {
                let mut counts = ErasureCounts::default();
                for (expected, resolves, after, event) in &items {
                    use crate::schema::invitations::dsl as i;
                    // Conditional: a row that changed since it was read (a
                    // concurrent answer) is left for the caller's next round.
                    let changed = diesel::update(i::invitations)
                        .filter(i::id.eq(&after.id))
                        .filter(i::email_normalized.eq(&normalized))
                        .filter(i::status.eq(*expected))
                        .set((
                            i::email.eq(&after.email),
                            i::email_normalized.eq(&after.email_normalized),
                            i::first_name.eq(&after.first_name),
                            i::last_name.eq(&after.last_name),
                            i::phone.eq(&after.phone),
                            i::message.eq(&after.message),
                            i::custom_data.eq(&after.custom_data),
                            i::status.eq(&after.status),
                            i::updated_at.eq(after.updated_at),
                            i::resolved_at.eq(after.resolved_at),
                        ))
                        .execute(conn)?;
                    if changed == 0 {
                        continue;
                    }
                    diesel::update(link_tokens::table)
                        .filter(link_tokens::invitation_id.eq(&after.id))
                        .filter(link_tokens::revoked_at.is_null())
                        .set(link_tokens::revoked_at.eq(now))
                        .execute(conn)?;
                    let dropped = diesel::delete(
                        email_jobs::table
                            .filter(email_jobs::invitation_id.eq(&after.id))
                            .filter(email_jobs::status.eq("queued")),
                    )
                    .execute(conn)?;
                    // Finished jobs stay for the email cap's count, without the address.
                    diesel::update(email_jobs::table.filter(email_jobs::invitation_id.eq(&after.id)))
                        .set((
                            email_jobs::to_email.eq(&after.email),
                            email_jobs::last_error.eq(None::<String>),
                        ))
                        .execute(conn)?;
                    diesel::insert_into(events::table).values(event).execute(conn)?;
                    counts.invitations += 1;
                    counts.emails_dropped += dropped as u64;
                    if *resolves {
                        counts.resolved += 1;
                    }
                }
                Ok(counts)
            })
        })
        .await
    }

    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError> {
        let row = SuppressionRow::from_domain(suppression)?;
        self.run(op::ADD_SUPPRESSION, move |conn| {
            write_unit(conn, |conn| {
                // The unique index decides between racing opt-outs; the loser reads the winner's row.
                match &mut *conn {
                    DbConnection::Pg(pg) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(pg)?,
                    DbConnection::Sqlite(lite) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(lite)?,
                };
                let stored = suppression_of(conn, &row.email_normalized, row.business_id.as_deref())?
                    .ok_or_else(|| StoreError::Unavailable("the suppression just written is not there".into()))?;
                Ok(stored.into_domain()?)
            })
        })
        .await
    }

    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        let business = id_text(business.as_uuid());
        self.run(op::SUPPRESSIONS_FOR, move |conn| {
            let rows = suppressions::table
                .filter(suppressions::email_normalized.eq_any(&normalized))
                .filter(
                    suppressions::business_id
                        .is_null()
                        .or(suppressions::business_id.eq(&business)),
                )
                .select(SuppressionRow::as_select())
                .load(conn)?;
            rows_into(rows, SuppressionRow::into_domain)
        })
        .await
    }

    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError> {
        let email = query.email.as_ref().map(|e| e.normalized().to_owned());
        let (limit, after) = (query.limit, query.after);
        self.run(op::LIST_SUPPRESSIONS, move |conn| {
            use crate::schema::suppressions::dsl as s;
            let mut q = s::suppressions
                .select(SuppressionRow::as_select())
                .into_boxed::<MultiBackend>();
            if let Some(email) = email {
                q = q.filter(s::email_normalized.eq(email));
            }
            let rows = newest_first_page!(q, suppressions, after, limit).load(conn)?;
            domain_page(rows, SuppressionRow::into_domain, limit, |sup: &Suppression| Cursor {
                created_at: sup.created_at,
                id: sup.id.as_uuid(),
            })
        })
        .await
    }

    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::DELETE_SUPPRESSION, move |conn| {
            let deleted = diesel::delete(suppressions::table.find(&id)).execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }
}

/// The stored suppression of this address and scope, if any.
fn suppression_of(
    conn: &mut DbConnection,
    email_normalized: &str,
    business: Option<&str>,
) -> Unit<Option<SuppressionRow>> {
    let query = suppressions::table
        .filter(suppressions::email_normalized.eq(email_normalized.to_owned()))
        .select(SuppressionRow::as_select())
        .into_boxed::<MultiBackend>();
    let query = match business {
        Some(business) => query.filter(suppressions::business_id.eq(business.to_owned())),
        None => query.filter(suppressions::business_id.is_null()),
    };
    Ok(query.first(conn).optional()?)
}
