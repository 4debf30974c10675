//! Text columns read straight into the value they spell.

use std::fmt::Display;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteValue};

use crate::connection::{MultiBackend, MultiRawValue};

/// A `TEXT` column parsed as `T` (an id, a status name) while the row is
/// read, from the bytes the driver holds: no `String` per column per row.
/// A list page reads dozens of these, and each `String` was an allocation
/// made on the blocking thread and freed on the HTTP worker
/// (docs/BENCHMARKS.md, "rows read without a string per column").
///
/// A value `T` refuses fails the read as diesel's deserialization error,
/// which the store reports as `Unavailable` with the value and the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) struct Parsed<T>(pub(crate) T);

impl<T> Parsed<T> {
    /// The value.
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

fn parse<T>(text: &str) -> deserialize::Result<Parsed<T>>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse().map(Parsed).map_err(|error| {
        format!(
            "unreadable stored value {text:?} (expected {}): {error}",
            std::any::type_name::<T>()
        )
        .into()
    })
}

impl<T> FromSql<Text, Pg> for Parsed<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        parse(std::str::from_utf8(value.as_bytes())?)
    }
}

impl<T> FromSql<Text, Sqlite> for Parsed<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        parse(value.read_text())
    }
}

impl<T> FromSql<Text, MultiBackend> for Parsed<T>
where
    T: FromStr,
    T::Err: Display,
{
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Text>()
    }
}

/// A `TEXT` column holding JSON, deserialized as `T` from the driver's
/// bytes while the row is read (an invitation's custom data and roles):
/// no `String` of the text first. What the domain then refuses is
/// reported by the row's conversion, naming the column.
#[derive(Debug, Clone, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) struct JsonText<T>(pub(crate) T);

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> deserialize::Result<JsonText<T>> {
    serde_json::from_slice(bytes)
        .map(JsonText)
        .map_err(|error| format!("unreadable stored JSON: {error}").into())
}

impl<T: serde::de::DeserializeOwned> FromSql<Text, Pg> for JsonText<T> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        parse_json(value.as_bytes())
    }
}

impl<T: serde::de::DeserializeOwned> FromSql<Text, Sqlite> for JsonText<T> {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        parse_json(value.read_text().as_bytes())
    }
}

impl<T: serde::de::DeserializeOwned> FromSql<Text, MultiBackend> for JsonText<T> {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Text>()
    }
}
