//! The analytics area: the invitation funnel of the caller's business, and
//! the first view of an invitee's page that it counts.

use super::*;
use crate::ports::{FunnelQuery, InvitationFunnel};

/// How far back a funnel reaches when `from` is not given: this many days
/// before `to`.
pub const FUNNEL_DEFAULT_DAYS: i64 = 30;

/// The longest range a funnel counts, in days (a leap year).
pub const FUNNEL_MAX_DAYS: i64 = 366;

/// The range a caller asks a funnel for; either end may be left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunnelRange {
    /// The first creation time counted (included); default
    /// [`FUNNEL_DEFAULT_DAYS`] before `to`.
    pub from: Option<OffsetDateTime>,
    /// The end of the range (excluded); default now.
    pub to: Option<OffsetDateTime>,
}

impl FunnelRange {
    /// The range `[from, to)` at `now`, its defaults filled in.
    ///
    /// # Errors
    /// The field `from` when it is after `to` (`invalid_range`) or more than
    /// [`FUNNEL_MAX_DAYS`] before it (`range_too_long`). An empty range
    /// (`from == to`) is allowed and counts nothing.
    pub fn resolve(self, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), AppError> {
        let to = self.to.unwrap_or(now);
        let from = self
            .from
            .unwrap_or_else(|| to.checked_sub(Duration::days(FUNNEL_DEFAULT_DAYS)).unwrap_or(to));
        if from > to {
            return Err(AppError::field("from", "invalid_range", "from must not be after to"));
        }
        if to - from > Duration::days(FUNNEL_MAX_DAYS) {
            return Err(AppError::field(
                "from",
                "range_too_long",
                "from must be at most 366 days before to",
            ));
        }
        Ok((from, to))
    }
}

/// A funnel and the range it counted ([`App::invitation_funnel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelReport {
    /// The first creation time counted (included).
    pub from: OffsetDateTime,
    /// The end of the range (excluded).
    pub to: OffsetDateTime,
    /// The counts.
    pub funnel: InvitationFunnel,
}

impl App {
    /// The funnel of the caller's business: what became of its invitations
    /// created in the range (see [`AnalyticsStore::invitation_funnel`](crate::AnalyticsStore::invitation_funnel)),
    /// read now.
    ///
    /// # Errors
    /// [`AppError::Validation`] naming `from` for a bad range (see
    /// [`FunnelRange::resolve`]); [`AppError::Unavailable`] when the store
    /// fails.
    pub async fn invitation_funnel(&self, principal: &Principal, range: FunnelRange) -> Result<FunnelReport, AppError> {
        let now = self.now();
        let (from, to) = range.resolve(now)?;
        let funnel = self
            .ports
            .store
            .analytics()
            .invitation_funnel(principal.business.id, &FunnelQuery { from, to, now })
            .await?;
        Ok(FunnelReport { from, to, funnel })
    }

    /// Records that the invitee's page of `invitation` was opened now, the
    /// first time only (the funnel's `page_viewed`). Never fails the page
    /// that calls it: a store failure is logged at warn and forgotten (the
    /// count is an upper bound anyway).
    pub async fn record_page_view(&self, invitation: InvitationId) {
        let now = self.now();
        if let Err(error) = self.ports.store.analytics().record_page_view(invitation, now).await {
            tracing::warn!(%error, invitation = %invitation, "page view not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
    }

    fn field_of(error: AppError) -> (String, String) {
        match error {
            AppError::Validation(errors) => {
                let error = &errors.errors()[0];
                (error.field.clone(), error.code.clone())
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    fn app(store: crate::ports::MockStore, now: OffsetDateTime) -> App {
        let mut clock = crate::ports::MockClock::new();
        clock.expect_now().return_const(now);
        App::new(
            Ports {
                store: Arc::new(store),
                clock: Arc::new(clock),
                ids: Arc::new(crate::ports::MockIdGenerator::new()),
                secrets: Arc::new(crate::ports::MockSecretGenerator::new()),
            },
            Settings::default(),
        )
    }

    fn principal() -> Principal {
        let business = Business {
            id: BusinessId::from_uuid(uuid::Uuid::from_u128(1)),
            name: BusinessName::parse("Acme").unwrap(),
            created_at: at(-1_000),
            suspended_at: None,
            external_id: None,
        };
        let user = User {
            id: UserId::from_uuid(uuid::Uuid::from_u128(2)),
            business_id: business.id,
            email: EmailAddress::parse("ann@acme.test").unwrap(),
            first_name: None,
            last_name: None,
            created_at: at(-1_000),
            deactivated_at: None,
            external_id: None,
        };
        Principal { business, user }
    }

    #[tokio::test]
    async fn the_funnel_counts_the_callers_business_over_the_resolved_range_read_now() {
        let now = at(0);
        let counted = InvitationFunnel {
            created: 3,
            median_nanos_to_answer: Some(90_500_000_000),
            ..InvitationFunnel::default()
        };
        let mut store = crate::ports::MockStore::new();
        store
            .analytics
            .expect_invitation_funnel()
            .withf(move |business, query| {
                business.as_uuid() == uuid::Uuid::from_u128(1)
                    && *query
                        == FunnelQuery {
                            from: now - Duration::days(30),
                            to: now,
                            now,
                        }
            })
            .times(1)
            .return_const(Ok(counted));
        let report = app(store, now)
            .invitation_funnel(&principal(), FunnelRange::default())
            .await
            .unwrap();
        assert_eq!(report.from, now - Duration::days(30));
        assert_eq!(report.to, now);
        assert_eq!(report.funnel, counted);
        assert_eq!(report.funnel.median_seconds_to_answer(), Some(90));
    }

    #[tokio::test]
    async fn a_bad_range_never_reaches_the_store() {
        let store = crate::ports::MockStore::new();
        let range = FunnelRange {
            from: Some(at(1)),
            to: Some(at(0)),
        };
        let error = app(store, at(0))
            .invitation_funnel(&principal(), range)
            .await
            .unwrap_err();
        assert_eq!(field_of(error).0, "from");
    }

    #[tokio::test]
    async fn a_page_view_the_store_fails_to_record_is_only_logged() {
        let now = at(0);
        let invitation = InvitationId::from_uuid(uuid::Uuid::from_u128(7));
        let mut store = crate::ports::MockStore::new();
        store
            .analytics
            .expect_record_page_view()
            .withf(move |id, when| *id == invitation && *when == now)
            .times(1)
            .returning(|_, _| Err(StoreError::Unavailable("down".into())));
        // Returns (), whatever the store answered: the page is served.
        app(store, now).record_page_view(invitation).await;
    }

    #[test]
    fn a_range_left_out_is_the_last_thirty_days_until_now() {
        let now = at(0);
        assert_eq!(
            FunnelRange::default().resolve(now).unwrap(),
            (now - Duration::days(30), now)
        );
        let to = at(-86_400);
        let only_to = FunnelRange {
            from: None,
            to: Some(to),
        };
        assert_eq!(only_to.resolve(now).unwrap(), (to - Duration::days(30), to));
        let from = at(-3_600);
        let only_from = FunnelRange {
            from: Some(from),
            to: None,
        };
        assert_eq!(only_from.resolve(now).unwrap(), (from, now));
    }

    #[test]
    fn from_after_to_or_more_than_366_days_before_it_is_refused_naming_from() {
        let now = at(0);
        let reversed = FunnelRange {
            from: Some(at(10)),
            to: Some(at(5)),
        };
        assert_eq!(
            field_of(reversed.resolve(now).unwrap_err()),
            ("from".to_owned(), "invalid_range".to_owned())
        );
        let future = FunnelRange {
            from: Some(at(1)),
            to: None,
        };
        assert_eq!(field_of(future.resolve(now).unwrap_err()).1, "invalid_range");
        let longest = FunnelRange {
            from: Some(now - Duration::days(366)),
            to: Some(now),
        };
        assert!(longest.resolve(now).is_ok());
        let too_long = FunnelRange {
            from: Some(now - Duration::days(366) - Duration::seconds(1)),
            to: Some(now),
        };
        assert_eq!(
            field_of(too_long.resolve(now).unwrap_err()),
            ("from".to_owned(), "range_too_long".to_owned())
        );
        let empty = FunnelRange {
            from: Some(now),
            to: Some(now),
        };
        assert_eq!(empty.resolve(now).unwrap(), (now, now));
    }
}
