//! The one schema of both backends, written by hand to match
//! `migrations/sqlite` and `migrations/postgres` (the contract suite, run on
//! both, reads and writes every column).
//!
//! Only types both backends share: ids are `Text` (hyphenated lowercase
//! UUIDs), times `BigInt` (unix nanoseconds, UTC), JSON `Text`, bytes
//! `Binary` (BLOB, BYTEA).

diesel::table! {
    businesses (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
        name_folded -> Text,
        suspended_at -> Nullable<BigInt>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        business_id -> Text,
        email -> Text,
        email_normalized -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        created_at -> BigInt,
        deactivated_at -> Nullable<BigInt>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Text,
        key_hash -> Text,
        created_at -> BigInt,
        name -> Text,
        prefix -> Text,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        business_id -> Text,
        sent_by_user_id -> Text,
        email -> Text,
        email_normalized -> Text,
        status -> Text,
        message -> Nullable<Text>,
        custom_data -> Text,
        roles -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        phone -> Nullable<Text>,
        external_id -> Nullable<Text>,
        source_is_invitee -> Bool,
        invitee_business_id -> Nullable<Text>,
        expires_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        resolved_at -> Nullable<BigInt>,
        email_delivery -> Nullable<Text>,
        last_sent_at -> Nullable<BigInt>,
        redirect_url -> Nullable<Text>,
        locale -> Nullable<Text>,
        email_feedback -> Nullable<Text>,
        page_viewed_at -> Nullable<BigInt>,
        reminded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Recipients' opt-outs; `business_id` NULL blocks every business.
    suppressions (id) {
        id -> Text,
        email -> Text,
        email_normalized -> Text,
        business_id -> Nullable<Text>,
        invitation_id -> Nullable<Text>,
        created_at -> BigInt,
        reason -> Text,
    }
}

diesel::table! {
    link_tokens (token_hash) {
        token_hash -> Text,
        invitation_id -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    connections (id) {
        id -> Text,
        business_low -> Text,
        business_high -> Text,
        inviter_business_id -> Text,
        invitee_business_id -> Text,
        invitation_id -> Nullable<Text>,
        roles -> Text,
        source_is_invitee -> Bool,
        created_at -> BigInt,
        join_link_id -> Nullable<Text>,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        kind -> Text,
        invitation_id -> Nullable<Text>,
        business_id -> Text,
        invitee_business_id -> Nullable<Text>,
        occurred_at -> BigInt,
        data -> Text,
        join_link_id -> Nullable<Text>,
    }
}

diesel::table! {
    join_links (id) {
        id -> Text,
        business_id -> Text,
        created_by_user_id -> Text,
        token_hash -> Text,
        max_uses -> Nullable<Integer>,
        uses -> Integer,
        roles -> Text,
        custom_data -> Text,
        requires_approval -> Bool,
        note -> Nullable<Text>,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    connection_requests (id) {
        id -> Text,
        join_link_id -> Text,
        business_id -> Text,
        requester_business_id -> Text,
        requester_user_id -> Text,
        roles -> Text,
        status -> Text,
        created_at -> BigInt,
        resolved_at -> Nullable<BigInt>,
        connection_id -> Nullable<Text>,
    }
}

diesel::table! {
    email_jobs (id) {
        id -> Text,
        invitation_id -> Text,
        to_email -> Text,
        link_token -> Nullable<Text>,
        attempts -> Integer,
        status -> Text,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        business_id -> Text,
        provider_message_id -> Nullable<Text>,
        kind -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        business_id -> Text,
        url -> Text,
        event_types -> Text,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (endpoint_id, id) {
        endpoint_id -> Text,
        id -> Text,
        business_id -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Nullable<Text>,
        occurred_at -> BigInt,
        attempts -> Integer,
        status -> Text,
        next_attempt_at -> BigInt,
        response_status -> Nullable<Integer>,
        duration_ms -> Nullable<BigInt>,
        attempted_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Data fix-ups queued by a migration, run in Rust after the SQL ones
    /// (`fixups.rs`); a row is deleted when its fix-up is done.
    pending_fixups (name) {
        name -> Text,
    }
}

diesel::table! {
    /// `Idempotency-Key` records: one per (scope, key).
    idempotency_records (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        attempt_id -> Text,
        status -> Text,
        started_at -> BigInt,
        expires_at -> BigInt,
        response_status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Binary>,
    }
}

diesel::table! {
    /// The relay of the event log to an event bus: its cursor (the last
    /// event published) and its lease. The events' places in commit order
    /// (`events.relay_tx`, `events.relay_seq` on PostgreSQL;
    /// `events.relay_seq` on SQLite) are read by the relay's own SQL only
    /// (`store/event_relay.rs`).
    event_relay (name) {
        name -> Text,
        last_event_id -> Nullable<Text>,
        holder -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::joinable!(users -> businesses (business_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(link_tokens -> invitations (invitation_id));

diesel::table! {
    /// Provider events already applied (the same report twice has one effect).
    provider_events (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        received_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    businesses,
    users,
    api_keys,
    invitations,
    link_tokens,
    connections,
    events,
    event_relay,
    join_links,
    connection_requests,
    email_jobs,
    suppressions,
    provider_events,
    webhook_endpoints,
    webhook_deliveries,
);
