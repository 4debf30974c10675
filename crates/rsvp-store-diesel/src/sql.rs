//! SQL fragments that diesel's DSL cannot write, in forms that keep a
//! statement cacheable.
//!
//! Diesel's `sql()` literal marks every statement it appears in as unsafe to
//! cache, so such a statement is parsed and planned again at every call (on
//! PostgreSQL an unnamed statement each time). The pages of the lists hold
//! fixed SQL text (the `pending` filter, the keyset), which is as safe to
//! cache as the DSL's own: these types say so. A cached statement is
//! prepared once per connection; on PostgreSQL it then gets the generic
//! plan, which the query-plan tests check (`store/query_plans.rs`). Point
//! lookups keep diesel's literal on purpose: their generic plan is wrong
//! without statistics (`stored_pending`, docs/DECISIONS.md).

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Text};

/// A fixed boolean condition, such as `invitations.status = 'pending'`: a
/// literal the planners can match against a partial index's predicate,
/// which a bound parameter would hide from them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Condition(pub(crate) &'static str);

impl Expression for Condition {
    type SqlType = Bool;
}

impl<DB: Backend> QueryFragment<DB> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

impl QueryId for Condition {
    type QueryId = ();
    // The text differs between conditions: the cache keys on it.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> AppearsOnTable<QS> for Condition {}

impl<QS> SelectableExpression<QS> for Condition {}

impl<GB> ValidGrouping<GB> for Condition {
    type IsAggregate = is_aggregate::Never;
}

/// The keyset of a page: `(<table>.created_at, <table>.id) < ($1, $2)`, a
/// row-value comparison that both backends read as one index range on
/// `(created_at, id)`, so a deep page costs as much as the first.
#[derive(Debug, Clone)]
pub(crate) struct KeysetBefore {
    /// `(<table>.created_at, <table>.id)`.
    columns: &'static str,
    created_at: i64,
    id: String,
}

impl KeysetBefore {
    /// Rows of `columns` (`(<table>.created_at, <table>.id)`) before `cursor`.
    pub(crate) fn new(columns: &'static str, cursor: &rsvp_app::Cursor) -> Self {
        Self {
            columns,
            created_at: crate::rows::bound_nanos(cursor.created_at),
            id: crate::rows::id_text(cursor.id),
        }
    }
}

impl Expression for KeysetBefore {
    type SqlType = Bool;
}

impl<DB> QueryFragment<DB> for KeysetBefore
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    String: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.columns);
        out.push_sql(" < (");
        out.push_bind_param::<BigInt, _>(&self.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.id)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for KeysetBefore {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> AppearsOnTable<QS> for KeysetBefore {}

impl<QS> SelectableExpression<QS> for KeysetBefore {}

impl<GB> ValidGrouping<GB> for KeysetBefore {
    type IsAggregate = is_aggregate::Never;
}

/// The select list of a [`Selectable`](diesel::Selectable) row as fixed
/// text, written once per process from diesel's own rendering of it.
///
/// A boxed query (a list page, whose filters vary) has no static query id,
/// so diesel renders its SQL at every call to find the prepared statement;
/// each quoted identifier of the select list is a fresh `String` there
/// (48 of them for an invitation row). This fragment pushes the whole list
/// as one piece of text; its SQL type is the row's, so the row loads from
/// it as from `as_select()` (docs/BENCHMARKS.md).
pub(crate) struct FixedSelection<S> {
    sql: &'static str,
    of: std::marker::PhantomData<S>,
}

impl<S> FixedSelection<S> {
    /// `selection` rendered as PostgreSQL writes it, which SQLite reads
    /// alike (double-quoted identifiers, no binds).
    ///
    /// # Errors
    /// Diesel's, when the selection cannot be written (it always can: it
    /// is the derive's list of columns).
    pub(crate) fn render(selection: &S) -> QueryResult<String>
    where
        S: QueryFragment<diesel::pg::Pg>,
    {
        use diesel::query_builder::QueryBuilder;
        let mut sql = diesel::pg::PgQueryBuilder::default();
        selection.to_sql(&mut sql, &diesel::pg::Pg)?;
        Ok(sql.finish())
    }

    /// A selection of `sql` (from [`render`](Self::render)).
    pub(crate) const fn new(sql: &'static str) -> Self {
        Self {
            sql,
            of: std::marker::PhantomData,
        }
    }
}

// Not derived: a derive would ask `S: Clone`, and the selection holds no `S`.
impl<S> Clone for FixedSelection<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for FixedSelection<S> {}

impl<S: Expression> Expression for FixedSelection<S> {
    type SqlType = S::SqlType;
}

impl<S, DB: Backend> QueryFragment<DB> for FixedSelection<S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<S> QueryId for FixedSelection<S> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S, QS> AppearsOnTable<QS> for FixedSelection<S> where S: AppearsOnTable<QS> {}

impl<S, QS> SelectableExpression<QS> for FixedSelection<S> where S: SelectableExpression<QS> {}

impl<S, GB> ValidGrouping<GB> for FixedSelection<S>
where
    S: ValidGrouping<GB>,
{
    type IsAggregate = S::IsAggregate;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::invitations;

    #[test]
    fn a_fixed_selection_is_the_select_list_as_diesel_writes_it_without_binds() {
        let columns = (invitations::id, invitations::email_normalized);
        let sql = FixedSelection::render(&columns).unwrap();
        assert_eq!(sql, r#""invitations"."id", "invitations"."email_normalized""#);
        let leaked: &'static str = Box::leak(sql.into_boxed_str());
        let selection = FixedSelection::<(invitations::id, invitations::email_normalized)>::new(leaked);
        assert_eq!(FixedSelection::render(&selection).unwrap(), leaked);
    }
}
