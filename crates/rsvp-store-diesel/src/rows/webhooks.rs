//! Rows of webhook endpoints and deliveries.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A webhook endpoint as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub(crate) struct WebhookEndpointRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) url: String,
    pub(crate) event_types: String,
    pub(crate) description: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) secret: String,
    pub(crate) previous_secret: Option<String>,
    pub(crate) previous_secret_until: Option<i64>,
    pub(crate) failing_since: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

pub(super) fn parse_secret(column: &str, text: &str) -> Result<WebhookSecret, StoreError> {
    WebhookSecret::parse(text).map_err(|e| corrupt(column, e))
}

impl WebhookEndpointRow {
    pub(crate) fn from_domain(endpoint: &WebhookEndpoint) -> Result<Self, StoreError> {
        let (previous_secret, previous_secret_until) = match &endpoint.previous_secret {
            Some((secret, until)) => (Some(secret.expose().to_owned()), Some(to_nanos(*until)?)),
            None => (None, None),
        };
        Ok(Self {
            id: id_text(endpoint.id.as_uuid()),
            business_id: id_text(endpoint.business_id.as_uuid()),
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.to_stored(),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            secret: endpoint.secret.expose().to_owned(),
            previous_secret,
            previous_secret_until,
            failing_since: optional_nanos(endpoint.failing_since)?,
            created_at: to_nanos(endpoint.created_at)?,
            updated_at: to_nanos(endpoint.updated_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<WebhookEndpoint, StoreError> {
        let previous_secret = match (self.previous_secret, self.previous_secret_until) {
            (Some(secret), Some(until)) => Some((
                parse_secret("webhook_endpoints.previous_secret", &secret)?,
                from_nanos("webhook_endpoints.previous_secret_until", until)?,
            )),
            _ => None,
        };
        Ok(WebhookEndpoint {
            id: parse_id("webhook_endpoints.id", &self.id)?,
            business_id: parse_id("webhook_endpoints.business_id", &self.business_id)?,
            url: self.url,
            event_types: EventTypeFilter::from_stored(&self.event_types),
            description: self.description,
            enabled: self.enabled,
            secret: parse_secret("webhook_endpoints.secret", &self.secret)?,
            previous_secret,
            failing_since: optional_time("webhook_endpoints.failing_since", self.failing_since)?,
            created_at: from_nanos("webhook_endpoints.created_at", self.created_at)?,
            updated_at: from_nanos("webhook_endpoints.updated_at", self.updated_at)?,
        })
    }
}

/// A webhook delivery as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub(crate) struct WebhookDeliveryRow {
    pub(crate) endpoint_id: String,
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) payload: Option<String>,
    pub(crate) occurred_at: i64,
    pub(crate) attempts: i32,
    pub(crate) status: String,
    pub(crate) next_attempt_at: i64,
    pub(crate) response_status: Option<i32>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) attempted_at: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
}

impl WebhookDeliveryRow {
    pub(crate) fn from_domain(delivery: &WebhookDelivery) -> Result<Self, StoreError> {
        Ok(Self {
            endpoint_id: id_text(delivery.endpoint_id.as_uuid()),
            id: id_text(delivery.id.as_uuid()),
            business_id: id_text(delivery.business_id.as_uuid()),
            event_id: id_text(delivery.event_id.as_uuid()),
            event_type: delivery.event_type.clone(),
            payload: delivery.payload.clone(),
            occurred_at: to_nanos(delivery.occurred_at)?,
            attempts: i32::try_from(delivery.attempts).unwrap_or(i32::MAX),
            status: delivery.status.as_str().to_owned(),
            next_attempt_at: to_nanos(delivery.next_attempt_at)?,
            response_status: delivery.response_status.map(i32::from),
            duration_ms: delivery.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            attempted_at: optional_nanos(delivery.attempted_at)?,
            last_error: delivery.last_error.clone(),
            created_at: to_nanos(delivery.created_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<WebhookDelivery, StoreError> {
        Ok(WebhookDelivery {
            id: parse_id("webhook_deliveries.id", &self.id)?,
            endpoint_id: parse_id("webhook_deliveries.endpoint_id", &self.endpoint_id)?,
            business_id: parse_id("webhook_deliveries.business_id", &self.business_id)?,
            event_id: parse_id("webhook_deliveries.event_id", &self.event_id)?,
            event_type: self.event_type,
            payload: self.payload,
            occurred_at: from_nanos("webhook_deliveries.occurred_at", self.occurred_at)?,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("webhook_deliveries.attempts", e))?,
            status: WebhookDeliveryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("webhook_deliveries.status", &self.status))?,
            next_attempt_at: from_nanos("webhook_deliveries.next_attempt_at", self.next_attempt_at)?,
            response_status: self
                .response_status
                .map(|s| u16::try_from(s).map_err(|e| corrupt("webhook_deliveries.response_status", e)))
                .transpose()?,
            duration_ms: self.duration_ms.map(|d| u64::try_from(d).unwrap_or(0)),
            attempted_at: optional_time("webhook_deliveries.attempted_at", self.attempted_at)?,
            last_error: self.last_error,
            created_at: from_nanos("webhook_deliveries.created_at", self.created_at)?,
        })
    }
}
