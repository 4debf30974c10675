//! The webhook use cases of [`App`]: a business's endpoints (register, list,
//! change, delete, rotate the secret), their deliveries, and redelivery.
//! Deliveries themselves are queued by the store with each event and sent
//! by the [`WebhookDispatcher`](crate::WebhookDispatcher).

use rsvp_domain::webhook::{
    EventTypeFilter, MAX_DESCRIPTION_LEN, SECRET_OVERLAP, UrlError, WebhookHost, WebhookSecret, WebhookUrl,
    is_forbidden_address,
};
use rsvp_domain::{EventId, FieldError, ValidationErrors, WebhookDeliveryId, WebhookEndpointId, is_format_control};

use crate::list::{Page, PageRequest};
use crate::ports::{Principal, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint};
use crate::{App, AppError};

/// Input of [`App::create_webhook_endpoint`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookEndpointInput {
    /// Required: where deliveries go.
    pub url: Option<String>,
    /// The types to receive; `None` for every type.
    pub event_types: Option<Vec<String>>,
    /// A note.
    pub description: Option<String>,
}

/// Input of [`App::update_webhook_endpoint`]: each field given is changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookEndpointPatch {
    /// A new URL.
    pub url: Option<String>,
    /// New types; `Some(None)` for every type.
    pub event_types: Option<Option<Vec<String>>>,
    /// A new note; `Some(None)` removes it.
    pub description: Option<Option<String>>,
    /// Enables or disables the endpoint.
    pub enabled: Option<bool>,
}

fn description(errors: &mut ValidationErrors, text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        errors.push(FieldError::new(
            "description",
            "too_long",
            format!("at most {MAX_DESCRIPTION_LEN} characters"),
        ));
        return None;
    }
    if text.chars().any(|c| c.is_control() || is_format_control(c)) {
        errors.push(FieldError::new(
            "description",
            "invalid_characters",
            "control and invisible format characters are not allowed",
        ));
        return None;
    }
    Some(text.to_owned())
}

fn event_types(errors: &mut ValidationErrors, types: Option<&[String]>) -> EventTypeFilter {
    match types {
        None => EventTypeFilter::all(),
        Some(types) => errors
            .collect("event_types", EventTypeFilter::parse(types))
            .unwrap_or_default(),
    }
}

impl App {
    /// Checks a webhook URL: its form and target (domain rules), then, with
    /// a resolver and unless private targets are allowed, every address its
    /// host resolves to. A name that does not resolve now is accepted (each
    /// delivery checks again).
    async fn check_url(&self, errors: &mut ValidationErrors, text: Option<&str>) -> Result<Option<String>, AppError> {
        let Some(text) = text else {
            errors.push(FieldError::new("url", "required", "url is required"));
            return Ok(None);
        };
        let policy = self.settings.webhook_policy;
        let url = match WebhookUrl::parse(text, policy) {
            Ok(url) => url,
            Err(UrlError::NotAllowed(reason)) => return Err(AppError::UrlNotAllowed(reason)),
            Err(invalid @ UrlError::Invalid(_)) => {
                errors.push(invalid.into());
                return Ok(None);
            }
        };
        if let (WebhookHost::Name(name), Some(resolver), false) = (url.host(), &self.resolver.0, policy.allow_private) {
            match resolver.resolve(name, url.port()).await {
                Ok(addresses) => {
                    if let Some(ip) = addresses.into_iter().find(|ip| is_forbidden_address(*ip)) {
                        return Err(AppError::UrlNotAllowed(format!(
                            "{name} resolves to {ip}, a loopback, private, link-local or otherwise non-public address"
                        )));
                    }
                }
                Err(error) => tracing::info!(host = %name, %error, "webhook host does not resolve now"),
            }
        }
        Ok(Some(url.as_str().to_owned()))
    }

    fn new_webhook_secret(&self) -> WebhookSecret {
        WebhookSecret::from_key(self.ports.secrets.generate().expose().as_bytes())
    }

    /// Registers a webhook endpoint for the caller's business; the result
    /// holds its secret (show it once).
    ///
    /// # Errors
    /// [`AppError::Validation`] (`url` required or invalid, unknown
    /// `event_types`, `description` too long); [`AppError::UrlNotAllowed`].
    pub async fn create_webhook_endpoint(
        &self,
        caller: &Principal,
        input: &WebhookEndpointInput,
    ) -> Result<WebhookEndpoint, AppError> {
        let mut errors = ValidationErrors::new();
        let url = self.check_url(&mut errors, input.url.as_deref()).await?;
        let event_types = event_types(&mut errors, input.event_types.as_deref());
        let description = description(&mut errors, input.description.as_deref());
        let Some(url) = url.filter(|_| errors.is_empty()) else {
            return Err(errors.into());
        };
        let now = self.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(self.new_id()),
            business_id: caller.business.id,
            url,
            event_types,
            description,
            enabled: true,
            secret: self.new_webhook_secret(),
            previous_secret: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        self.ports.store.webhooks().insert_webhook_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// The caller's business's endpoints, oldest first.
    ///
    /// # Errors
    /// [`AppError::Unavailable`].
    pub async fn list_webhook_endpoints(&self, caller: &Principal) -> Result<Vec<WebhookEndpoint>, AppError> {
        Ok(self
            .ports
            .store
            .webhooks()
            .list_webhook_endpoints(caller.business.id)
            .await?)
    }

    /// One endpoint of the caller's business.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for another business's endpoint too.
    pub async fn get_webhook_endpoint(
        &self,
        caller: &Principal,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, AppError> {
        self.ports
            .store
            .webhooks()
            .get_webhook_endpoint(id)
            .await?
            .filter(|endpoint| endpoint.business_id == caller.business.id)
            .ok_or(AppError::NotFound)
    }

    /// Changes an endpoint's URL, types, description or enabled flag.
    /// Enabling a disabled endpoint forgets its failures.
    ///
    /// # Errors
    /// As [`create_webhook_endpoint`](Self::create_webhook_endpoint), and
    /// [`AppError::NotFound`].
    pub async fn update_webhook_endpoint(
        &self,
        caller: &Principal,
        id: WebhookEndpointId,
        patch: &WebhookEndpointPatch,
    ) -> Result<WebhookEndpoint, AppError> {
        let mut endpoint = self.get_webhook_endpoint(caller, id).await?;
        let mut errors = ValidationErrors::new();
        if let Some(url) = &patch.url
            && let Some(url) = self.check_url(&mut errors, Some(url)).await?
        {
            endpoint.url = url;
        }
        if let Some(types) = &patch.event_types {
            endpoint.event_types = event_types(&mut errors, types.as_deref());
        }
        if let Some(text) = &patch.description {
            endpoint.description = description(&mut errors, text.as_deref());
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !endpoint.enabled {
                endpoint.failing_since = None;
            }
            endpoint.enabled = enabled;
        }
        endpoint.updated_at = self.now();
        self.ports.store.webhooks().update_webhook_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    /// [`AppError::NotFound`].
    pub async fn delete_webhook_endpoint(&self, caller: &Principal, id: WebhookEndpointId) -> Result<(), AppError> {
        let endpoint = self.get_webhook_endpoint(caller, id).await?;
        Ok(self.ports.store.webhooks().delete_webhook_endpoint(endpoint.id).await?)
    }

    /// Gives an endpoint a new secret; the previous one keeps signing for
    /// [`SECRET_OVERLAP`] (24 h), so that receivers can switch without
    /// losing deliveries. The result holds the new secret (show it once).
    ///
    /// # Errors
    /// [`AppError::NotFound`].
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Principal,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, AppError> {
        let mut endpoint = self.get_webhook_endpoint(caller, id).await?;
        let now = self.now();
        let previous = std::mem::replace(&mut endpoint.secret, self.new_webhook_secret());
        endpoint.previous_secret = Some((previous, now + SECRET_OVERLAP));
        endpoint.updated_at = now;
        self.ports.store.webhooks().update_webhook_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// An endpoint's deliveries, newest first.
    ///
    /// # Errors
    /// [`AppError::NotFound`].
    pub async fn list_webhook_deliveries(
        &self,
        caller: &Principal,
        id: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, AppError> {
        let endpoint = self.get_webhook_endpoint(caller, id).await?;
        Ok(self
            .ports
            .store
            .webhooks()
            .list_webhook_deliveries(endpoint.id, page)
            .await?)
    }

    /// Queues the event `event_id` again for the endpoint (whatever its
    /// filter), with the same `webhook-id`.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`event_id` missing or not an id);
    /// [`AppError::NotFound`] for an unknown endpoint, or an event the
    /// caller's business cannot see; [`AppError::EndpointDisabled`].
    pub async fn redeliver_webhook(
        &self,
        caller: &Principal,
        id: WebhookEndpointId,
        event_id: Option<&str>,
    ) -> Result<WebhookDelivery, AppError> {
        let endpoint = self.get_webhook_endpoint(caller, id).await?;
        let event_id: EventId = match event_id.map(str::parse) {
            Some(Ok(event_id)) => event_id,
            Some(Err(_)) => return Err(AppError::field("event_id", "invalid", "event_id must be an event id")),
            None => return Err(AppError::field("event_id", "required", "event_id is required")),
        };
        let event = self
            .ports
            .store
            .network()
            .get_event(event_id)
            .await?
            .filter(|event| event.visible_to(caller.business.id))
            .ok_or(AppError::NotFound)?;
        if !endpoint.enabled {
            return Err(AppError::EndpointDisabled);
        }
        let now = self.now();
        let delivery = WebhookDelivery {
            id: WebhookDeliveryId::from_uuid(self.new_id()),
            endpoint_id: endpoint.id,
            business_id: endpoint.business_id,
            event_id: event.id,
            event_type: event.kind.as_str().to_owned(),
            payload: None,
            occurred_at: event.occurred_at,
            attempts: 0,
            status: WebhookDeliveryStatus::Pending,
            next_attempt_at: now,
            response_status: None,
            duration_ms: None,
            attempted_at: None,
            last_error: None,
            created_at: now,
        };
        self.ports.store.webhooks().insert_webhook_delivery(&delivery).await?;
        Ok(delivery)
    }
}
