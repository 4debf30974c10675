//! Typed identifiers. Each wraps a [`Uuid`] so that a business id can never be
//! passed where an invitation id is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (ids are minted by the application's id port).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

typed_id!(
    /// Identifies a [`Business`](crate::Business), a tenant.
    BusinessId
);
typed_id!(
    /// Identifies a [`User`](crate::User), a member of one business.
    UserId
);
typed_id!(
    /// Identifies an [`Invitation`](crate::Invitation).
    InvitationId
);
typed_id!(
    /// Identifies a [`Connection`](crate::Connection) between two businesses.
    ConnectionId
);
typed_id!(
    /// Identifies an [`Event`](crate::Event).
    EventId
);
typed_id!(
    /// Identifies a queued email (one row of the email outbox).
    EmailJobId
);
typed_id!(
    /// Identifies a [`Suppression`](crate::Suppression), one recipient's opt-out.
    SuppressionId
);
typed_id!(
    /// Identifies an API key (the key's secret is never stored, only its hash).
    ApiKeyId
);
typed_id!(
    /// Identifies a webhook endpoint of a business.
    WebhookEndpointId
);
typed_id!(
    /// Identifies one webhook delivery (one event to one endpoint, with its attempts).
    WebhookDeliveryId
);

typed_id!(
    /// Identifies a [`JoinLink`](crate::JoinLink).
    JoinLinkId
);

typed_id!(
    /// Identifies a [`ConnectionRequest`](crate::ConnectionRequest).
    ConnectionRequestId
);
