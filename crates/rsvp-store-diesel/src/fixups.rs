//! Data fix-ups that SQL cannot do, queued by a migration in the
//! `pending_fixups` table and run in Rust right after the SQL migrations.
//!
//! `input_means_one_thing` (migration `2025-06-02-000001_input_means_one_thing`):
//! the normalized email of every user and invitation is recomputed with
//! [`EmailAddress::normalized`] (domain in IDNA ASCII form, local part in NFC),
//! and stored names, external ids and messages lose the invisible characters
//! their types now refuse, so every stored row still reads back.
//!
//! Each batch of rows is one transaction; the fix-up's row is deleted in the
//! last one. Recomputing is idempotent, so an interrupted run is simply run
//! again at the next start. Concurrent starts take turns: each batch first
//! locks the fix-up's row (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN
//! IMMEDIATE` serializes writers) and stops when another has deleted it.
//!
//! Two rows whose addresses become one (`a@bücher.test` and
//! `a@xn--bcher-kva.test` for two users, or two pending invitations of one
//! business) cannot both hold the new value under the unique indexes: the row
//! that already holds it keeps it, else the first in id order (ids are
//! time-ordered: the oldest) takes it, and the other keeps its old value and
//! is logged by id (docs/DECISIONS.md).

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use rsvp_domain::{EmailAddress, fold_for_search, is_bidi_override, is_format_control};

use crate::connection::DbConnection;
use crate::schema::{businesses, invitations, pending_fixups, users};

/// Rows read and written per transaction.
const BATCH: i64 = 500;

/// The name `2025-06-02-000001_input_means_one_thing` queues.
pub(crate) const INPUT_MEANS_ONE_THING: &str = "input_means_one_thing";

/// The name `2026-11-30-000030_operator_lifecycle` queues: every business's
/// `name_folded` is computed again with [`fold_for_search`] (SQLite's
/// `lower()` folds ASCII only). Sorted after [`INPUT_MEANS_ONE_THING`], so it
/// folds the names that fix-up cleaned.
pub(crate) const OPERATOR_LIFECYCLE_NAMES: &str = "operator_lifecycle_names";

/// A business name that was nothing but format characters.
const UNNAMED_BUSINESS: &str = "Unnamed business";

type FixupResult<T> = Result<T, DieselError>;

/// Runs every queued fix-up this build knows; returns the names run.
pub(crate) fn run_pending(conn: &mut DbConnection) -> FixupResult<Vec<String>> {
    let queued: Vec<String> = pending_fixups::table
        .select(pending_fixups::name)
        .order(pending_fixups::name.asc())
        .load(conn)?;
    let mut done = Vec::new();
    for name in queued {
        if name == INPUT_MEANS_ONE_THING {
            input_means_one_thing(conn)?;
            done.push(name);
        } else if name == OPERATOR_LIFECYCLE_NAMES {
            operator_lifecycle_names(conn)?;
            done.push(name);
        } else {
            // Queued by a newer build's migration: that build runs it.
            tracing::warn!(fixup = %name, "unknown data fix-up left for a newer version");
        }
    }
    Ok(done)
}

/// Whether `unit` ran; `false` once another process has finished the fix-up.
fn batch(
    conn: &mut DbConnection,
    name: &str,
    unit: impl FnOnce(&mut DbConnection) -> FixupResult<()>,
) -> FixupResult<bool> {
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        DbConnection::Pg(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN ISOLATION LEVEL READ COMMITTED")?
        }
    }
    let result = (|| {
        let still_queued = match conn {
            DbConnection::Pg(inner) => pending_fixups::table
                .filter(pending_fixups::name.eq(name))
                .select(pending_fixups::name)
                .for_update()
                .first::<String>(inner)
                .optional()?,
            DbConnection::Sqlite(inner) => pending_fixups::table
                .filter(pending_fixups::name.eq(name))
                .select(pending_fixups::name)
                .first::<String>(inner)
                .optional()?,
        };
        if still_queued.is_none() {
            return Ok(false);
        }
        unit(conn)?;
        Ok(true)
    })();
    match result {
        Ok(ran) => {
            Manager::commit_transaction(conn)?;
            Ok(ran)
        }
        Err(error) => {
            let _ = Manager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// `text` without format characters (category Cf), trimmed; `None` when
/// nothing is left.
fn without_format(text: &str) -> Option<String> {
    let kept: String = text.chars().filter(|c| !is_format_control(*c)).collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// `text` without bidi overrides, embeddings and isolates, trimmed; `None`
/// when nothing is left.
fn without_bidi_overrides(text: &str) -> Option<String> {
    let kept: String = text.chars().filter(|c| !is_bidi_override(*c)).collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// The normalized form of a stored address, or the stored value when the
/// address no longer parses (logged: the row needs an operator).
fn renormalized(table: &str, id: &str, email: &str, stored: &str) -> String {
    match EmailAddress::parse(email) {
        Ok(address) => address.normalized().to_owned(),
        Err(error) => {
            tracing::warn!(table, id, %error, "stored email no longer parses; normalized value left as is");
            stored.to_owned()
        }
    }
}

fn input_means_one_thing(conn: &mut DbConnection) -> FixupResult<()> {
    let name = INPUT_MEANS_ONE_THING;
    // Each table in turn; the last batch of the last table ends the fix-up.
    if !each_batch(conn, name, fix_businesses, false)? || !each_batch(conn, name, fix_users, false)? {
        return Ok(());
    }
    each_batch(conn, name, fix_invitations, true)?;
    Ok(())
}

/// Runs `fix` batch after batch (each in a unit of [`batch`], keyed by the
/// last id it fixed) until a batch fixes nothing more; with `last`, the
/// batch that finds nothing more also removes the fix-up from the queue.
/// Whether it ran to the end (`false`: another replica holds the fix-up).
fn each_batch(
    conn: &mut DbConnection,
    name: &str,
    mut fix: impl FnMut(&mut DbConnection, &str) -> FixupResult<Option<String>>,
    last: bool,
) -> FixupResult<bool> {
    let mut after = String::new();
    loop {
        let mut next = None;
        let ran = batch(conn, name, |conn| {
            next = fix(conn, &after)?;
            if last && next.is_none() {
                diesel::delete(pending_fixups::table.filter(pending_fixups::name.eq(name))).execute(conn)?;
            }
            Ok(())
        })?;
        match (ran, next) {
            (true, Some(id)) => after = id,
            (true, None) => return Ok(true),
            (false, _) => return Ok(false),
        }
    }
}

fn operator_lifecycle_names(conn: &mut DbConnection) -> FixupResult<()> {
    let name = OPERATOR_LIFECYCLE_NAMES;
    let mut last = String::new();
    loop {
        let mut next = None;
        let ran = batch(conn, name, |conn| {
            let rows: Vec<(String, String, String)> = businesses::table
                .filter(businesses::id.gt(&last))
                .order(businesses::id.asc())
                .limit(BATCH)
                .select((businesses::id, businesses::name, businesses::name_folded))
                .load(conn)?;
            for (id, business_name, stored) in &rows {
                let folded = fold_for_search(business_name);
                if &folded != stored {
                    diesel::update(businesses::table.filter(businesses::id.eq(id)))
                        .set(businesses::name_folded.eq(&folded))
                        .execute(conn)?;
                }
            }
            next = next_after(&rows, |row| &row.0);
            if next.is_none() {
                diesel::delete(pending_fixups::table.filter(pending_fixups::name.eq(name))).execute(conn)?;
            }
            Ok(())
        })?;
        match (ran, next) {
            (true, Some(id)) => last = id,
            _ => return Ok(()),
        }
    }
}

/// One batch of businesses after id `after`; the last id when there may be more.
fn fix_businesses(conn: &mut DbConnection, after: &str) -> FixupResult<Option<String>> {
    let rows: Vec<(String, String)> = businesses::table
        .filter(businesses::id.gt(after))
        .order(businesses::id.asc())
        .limit(BATCH)
        .select((businesses::id, businesses::name))
        .load(conn)?;
    for (id, name) in &rows {
        let fixed = without_format(name).unwrap_or_else(|| UNNAMED_BUSINESS.to_owned());
        if &fixed != name {
            diesel::update(businesses::table.filter(businesses::id.eq(id)))
                .set(businesses::name.eq(&fixed))
                .execute(conn)?;
        }
    }
    Ok(next_after(&rows, |(id, _)| id))
}

type UserFields = (String, String, String, Option<String>, Option<String>);

fn fix_users(conn: &mut DbConnection, after: &str) -> FixupResult<Option<String>> {
    let rows: Vec<UserFields> = users::table
        .filter(users::id.gt(after))
        .order(users::id.asc())
        .limit(BATCH)
        .select((
            users::id,
            users::email,
            users::email_normalized,
            users::first_name,
            users::last_name,
        ))
        .load(conn)?;
    for (id, email, stored, first_name, last_name) in &rows {
        let mut normalized = renormalized("users", id, email, stored);
        if &normalized != stored {
            let holder: Option<String> = users::table
                .filter(users::email_normalized.eq(&normalized))
                .filter(users::id.ne(id))
                .select(users::id)
                .first(conn)
                .optional()?;
            if let Some(holder) = holder {
                tracing::warn!(
                    id,
                    holder,
                    "two users' addresses are one mailbox; this one keeps its old normalized email"
                );
                normalized.clone_from(stored);
            }
        }
        let first = first_name.as_deref().and_then(without_format);
        let last = last_name.as_deref().and_then(without_format);
        if &normalized != stored || &first != first_name || &last != last_name {
            diesel::update(users::table.filter(users::id.eq(id)))
                .set((
                    users::email_normalized.eq(&normalized),
                    users::first_name.eq(&first),
                    users::last_name.eq(&last),
                ))
                .execute(conn)?;
        }
    }
    Ok(next_after(&rows, |row| &row.0))
}

#[derive(Queryable)]
struct InvitationFields {
    id: String,
    business_id: String,
    email: String,
    email_normalized: String,
    status: String,
    message: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    external_id: Option<String>,
}

fn fix_invitations(conn: &mut DbConnection, after: &str) -> FixupResult<Option<String>> {
    let rows: Vec<InvitationFields> = invitations::table
        .filter(invitations::id.gt(after))
        .order(invitations::id.asc())
        .limit(BATCH)
        .select((
            invitations::id,
            invitations::business_id,
            invitations::email,
            invitations::email_normalized,
            invitations::status,
            invitations::message,
            invitations::first_name,
            invitations::last_name,
            invitations::external_id,
        ))
        .load(conn)?;
    for row in &rows {
        let mut normalized = renormalized("invitations", &row.id, &row.email, &row.email_normalized);
        // Only pending invitations are unique per (business, address).
        if normalized != row.email_normalized && row.status == "pending" {
            let holder: Option<String> = invitations::table
                .filter(invitations::business_id.eq(&row.business_id))
                .filter(invitations::email_normalized.eq(&normalized))
                .filter(invitations::status.eq("pending"))
                .filter(invitations::id.ne(&row.id))
                .select(invitations::id)
                .first(conn)
                .optional()?;
            if let Some(holder) = holder {
                tracing::warn!(
                    id = %row.id,
                    holder,
                    "two pending invitations of one business are to one mailbox; this one keeps its old normalized email"
                );
                normalized.clone_from(&row.email_normalized);
            }
        }
        let message = row.message.as_deref().and_then(without_bidi_overrides);
        let first = row.first_name.as_deref().and_then(without_format);
        let last = row.last_name.as_deref().and_then(without_format);
        let external_id = row.external_id.as_deref().and_then(without_format);
        let changed = normalized != row.email_normalized
            || message != row.message
            || first != row.first_name
            || last != row.last_name
            || external_id != row.external_id;
        if changed {
            diesel::update(invitations::table.filter(invitations::id.eq(&row.id)))
                .set((
                    invitations::email_normalized.eq(&normalized),
                    invitations::message.eq(&message),
                    invitations::first_name.eq(&first),
                    invitations::last_name.eq(&last),
                    invitations::external_id.eq(&external_id),
                ))
                .execute(conn)?;
        }
    }
    Ok(next_after(&rows, |row| &row.id))
}

/// The id to continue after, when the batch was full.
fn next_after<T>(rows: &[T], id: impl Fn(&T) -> &String) -> Option<String> {
    if i64::try_from(rows.len()).is_ok_and(|n| n == BATCH) {
        rows.last().map(|row| id(row).clone())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripping_keeps_visible_text_and_drops_what_is_left_empty() {
        assert_eq!(without_format("\u{200B}Ann\u{00AD} ").as_deref(), Some("Ann"));
        assert_eq!(without_format("\u{FEFF}\u{202E}"), None);
        assert_eq!(
            without_bidi_overrides("hi\u{200F} \u{202E}there").as_deref(),
            Some("hi\u{200F} there")
        );
    }
}
