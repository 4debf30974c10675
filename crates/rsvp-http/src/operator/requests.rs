//! The operator's request bodies (`/v1/admin/...`): provisioning, the
//! lifecycle of businesses, users and API keys, and erasure. Each one Rust
//! type, read and checked as every body is (see [`crate::requests`]).

use rsvp_app::{BusinessChange, NewApiKeyInput, NewBusinessInput, NewUserInput, UserChange};
use rsvp_domain::FieldError;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use validator::Validate;

use crate::json::{Field, Object, RequestBody, nullable, object, required, typed};

/// A new user.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct AddUserRequest {
    /// Unique across all businesses.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, format = Email)]
    #[serde(default)]
    pub email: Field<String>,
    /// First name.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub first_name: Field<String>,
    /// Last name.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub last_name: Field<String>,
    /// The host platform's id of the user (its identity provider's `sub`),
    /// unique among users; at most 255 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 255)]
    #[serde(default)]
    pub external_id: Field<String>,
}

impl From<AddUserRequest> for NewUserInput {
    fn from(user: AddUserRequest) -> Self {
        Self {
            email: user.email.given(),
            first_name: user.first_name.given(),
            last_name: user.last_name.given(),
            external_id: user.external_id.given(),
        }
    }
}

impl RequestBody for AddUserRequest {
    type Input = NewUserInput;

    fn into_input(self) -> Result<NewUserInput, Vec<FieldError>> {
        Ok(self.into())
    }
}

/// `POST /v1/admin/businesses` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateBusinessRequest {
    /// 1 to 200 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    #[serde(default)]
    pub name: Field<String>,
    /// The first user.
    #[validate(custom(function = object), nested)]
    #[schema(value_type = AddUserRequest, required = true)]
    #[serde(default)]
    pub user: Object<AddUserRequest>,
    /// The host platform's id of the business (its org or tenant id), unique
    /// among businesses; at most 255 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, max_length = 255)]
    #[serde(default)]
    pub external_id: Field<String>,
}

impl RequestBody for CreateBusinessRequest {
    type Input = NewBusinessInput;

    fn into_input(self) -> Result<NewBusinessInput, Vec<FieldError>> {
        Ok(NewBusinessInput {
            name: self.name.given(),
            user: self.user.field.given().map(NewUserInput::from).unwrap_or_default(),
            external_id: self.external_id.given(),
        })
    }
}

/// `PATCH /v1/admin/businesses/{id}` body: a field left out (or null) stays as it is.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateBusinessRequest {
    /// A new name, 1 to 200 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[serde(default)]
    pub name: Field<String>,
    /// `true` suspends the business (its API keys get 403
    /// `business_suspended`, its links are dead), `false` reinstates it.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub suspended: Field<bool>,
    /// The host platform's id of the business, at most 255 characters;
    /// null clears it.
    #[validate(custom(function = nullable))]
    #[schema(value_type = Option<String>, max_length = 255)]
    #[serde(default)]
    pub external_id: Field<String>,
}

impl RequestBody for UpdateBusinessRequest {
    type Input = BusinessChange;

    fn into_input(self) -> Result<BusinessChange, Vec<FieldError>> {
        Ok(BusinessChange {
            name: self.name.given(),
            suspended: self.suspended.given(),
            external_id: self.external_id.patch(),
        })
    }
}

/// `PATCH /v1/admin/users/{id}` body: a field left out stays as it is; a
/// null name is cleared.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateUserRequest {
    /// First name, at most 100 characters; null clears it.
    #[validate(custom(function = nullable))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub first_name: Field<String>,
    /// Last name, at most 100 characters; null clears it.
    #[validate(custom(function = nullable))]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[serde(default)]
    pub last_name: Field<String>,
    /// `true` deactivates the user (its API keys get 401), `false` reactivates it.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<bool>)]
    #[serde(default)]
    pub deactivated: Field<bool>,
    /// The host platform's id of the user, at most 255 characters; null
    /// clears it.
    #[validate(custom(function = nullable))]
    #[schema(value_type = Option<String>, max_length = 255)]
    #[serde(default)]
    pub external_id: Field<String>,
}

impl RequestBody for UpdateUserRequest {
    type Input = UserChange;

    fn into_input(self) -> Result<UserChange, Vec<FieldError>> {
        Ok(UserChange {
            first_name: self.first_name.patch(),
            last_name: self.last_name.patch(),
            deactivated: self.deactivated.given(),
            external_id: self.external_id.patch(),
        })
    }
}

/// `POST /v1/admin/users/{id}/api-keys` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateApiKeyRequest {
    /// A label, 1 to 100 characters.
    #[validate(custom(function = typed))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, example = "ci deploy")]
    #[serde(default)]
    pub name: Field<String>,
    /// When the key stops working (RFC 3339, in the future); left out or null: never.
    #[validate(custom(function = typed))]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default)]
    pub expires_at: Field<String>,
}

impl RequestBody for CreateApiKeyRequest {
    type Input = NewApiKeyInput;

    fn into_input(self) -> Result<NewApiKeyInput, Vec<FieldError>> {
        let expires_at = match self.expires_at.given() {
            None => None,
            Some(raw) => Some(OffsetDateTime::parse(&raw, &Rfc3339).map_err(|_| {
                vec![FieldError::new(
                    "expires_at",
                    "invalid_format",
                    "expires_at must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z",
                )]
            })?),
        };
        Ok(NewApiKeyInput {
            name: self.name.given(),
            expires_at,
        })
    }
}

/// `POST /v1/admin/erasures` body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct ErasureRequest {
    /// The person's address; compared normalized (trimmed, case-insensitive).
    #[validate(custom(function = required))]
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    #[serde(default)]
    pub email: Field<String>,
}

impl RequestBody for ErasureRequest {
    type Input = String;

    fn into_input(self) -> Result<String, Vec<FieldError>> {
        Ok(self.email.given().unwrap_or_default())
    }
}
