//! The store's port operations, typed: each one's name (for logs and
//! errors) and what it does, known to the compiler. On SQLite a read runs
//! on the pool's read connections and every other operation on the one
//! writer; a write's success proves the storage writable again; an
//! operation that queues email wakes the dispatcher.

/// What an operation does to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only reads.
    Read,
    /// Writes.
    Write,
    /// Writes, queueing email jobs.
    QueuesEmail,
    /// Writes, queueing email jobs whose ids it hands the dispatcher after
    /// the commit, on PostgreSQL (`wake.rs`: claim hints).
    QueuesHintedEmail,
}

/// One operation of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operation {
    /// The port method's name.
    pub(crate) name: &'static str,
    /// What it does.
    pub(crate) kind: Kind,
}

impl Operation {
    /// Whether it only reads.
    pub(crate) fn reads_only(self) -> bool {
        self.kind == Kind::Read
    }

    /// Whether it writes (an operation that queues email does).
    pub(crate) fn writes(self) -> bool {
        self.kind != Kind::Read
    }

    /// Whether it queues email jobs.
    pub(crate) fn queues_email(self) -> bool {
        matches!(self.kind, Kind::QueuesEmail | Kind::QueuesHintedEmail)
    }

    /// Whether it hints the jobs it queues (then it wakes the dispatcher
    /// itself, once the hints are there).
    pub(crate) fn hints_email_jobs(self) -> bool {
        self.kind == Kind::QueuesHintedEmail
    }
}

macro_rules! operations {
    ($($constant:ident = $name:literal: $kind:ident;)*) => {
        $(
            #[doc = concat!("`", $name, "`.")]
            pub(crate) const $constant: Operation = Operation { name: $name, kind: Kind::$kind };
        )*
        /// Every operation (for the tests).
        #[cfg(test)]
        pub(crate) const ALL: &[Operation] = &[$($constant),*];
    };
}

operations! {
    ABANDON_IDEMPOTENT = "abandon_idempotent": Write;
    ADD_SUPPRESSION = "add_suppression": Write;
    ADD_USER = "add_user": Write;
    ADVANCE_RELAY_CURSOR = "advance_relay_cursor": Write;
    ANSWER_CONNECTION_REQUEST = "answer_connection_request": Write;
    APPLY_TRANSITION = "apply_transition": Write;
    BEGIN_IDEMPOTENT = "begin_idempotent": Write;
    CLAIM_EMAIL_JOBS = "claim_email_jobs": Write;
    CLAIM_WEBHOOK_DELIVERIES = "claim_webhook_deliveries": Write;
    COMPLETE_IDEMPOTENT = "complete_idempotent": Write;
    CONNECTED_AMONG = "connected_among": Read;
    CREATE_API_KEY = "create_api_key": Write;
    CREATE_BUSINESS = "create_business": Write;
    CREATE_INVITATION = "create_invitation": QueuesHintedEmail;
    DELETE_SUPPRESSION = "delete_suppression": Write;
    DELETE_WEBHOOK_ENDPOINT = "delete_webhook_endpoint": Write;
    DUE_FOR_EXPIRY = "due_for_expiry": Read;
    DUE_FOR_REMINDER = "due_for_reminder": Read;
    ERASE_INVITATIONS = "erase_invitations": Write;
    FIND_CREDENTIAL = "find_credential": Read;
    FIND_INVITATION_BY_LINK = "find_invitation_by_link": Read;
    FIND_JOIN_LINK_BY_TOKEN = "find_join_link_by_token": Read;
    FIND_PENDING_FOR_EMAILS = "find_pending_for_emails": Read;
    FIND_USER_BY_EMAIL = "find_user_by_email": Read;
    FIND_USER_BY_EXTERNAL_ID = "find_user_by_external_id": Read;
    FIND_USERS_BY_EMAILS = "find_users_by_emails": Read;
    FINISH_EMAIL_JOBS = "finish_email_jobs": Write;
    FINISH_WEBHOOK_DELIVERY = "finish_webhook_delivery": Write;
    GET_BUSINESS = "get_business": Read;
    GET_CONNECTION_REQUEST = "get_connection_request": Read;
    GET_EVENT = "get_event": Read;
    GET_INVITATION = "get_invitation": Read;
    GET_INVITATIONS = "get_invitations": Read;
    GET_JOIN_LINK = "get_join_link": Read;
    GET_USER = "get_user": Read;
    GET_WEBHOOK_ENDPOINT = "get_webhook_endpoint": Read;
    INSERT_INVITATIONS = "insert_invitations": QueuesHintedEmail;
    INSERT_JOIN_LINK = "insert_join_link": Write;
    INSERT_WEBHOOK_DELIVERY = "insert_webhook_delivery": Write;
    INSERT_WEBHOOK_ENDPOINT = "insert_webhook_endpoint": Write;
    INVITATION_FUNNEL = "invitation_funnel": Read;
    INVITATIONS_TO_EMAIL = "invitations_to_email": Read;
    LIST_API_KEYS = "list_api_keys": Read;
    LIST_BUSINESSES = "list_businesses": Read;
    LIST_CONNECTION_REQUESTS = "list_connection_requests": Read;
    LIST_CONNECTIONS = "list_connections": Read;
    LIST_EVENTS = "list_events": Read;
    LIST_JOIN_LINKS = "list_join_links": Read;
    LIST_RECEIVED = "list_received": Read;
    LIST_SENT = "list_sent": Read;
    LIST_SUPPRESSIONS = "list_suppressions": Read;
    LIST_USERS = "list_users": Read;
    LIST_WEBHOOK_DELIVERIES = "list_webhook_deliveries": Read;
    LIST_WEBHOOK_ENDPOINTS = "list_webhook_endpoints": Read;
    OLDEST_QUEUED_EMAIL = "oldest_queued_email": Read;
    OUTBOX_DEPTH = "outbox_depth": Read;
    PRUNE_EMAIL_JOBS = "prune_email_jobs": Write;
    PRUNE_EMAIL_REPORTS = "prune_email_reports": Write;
    PRUNE_IDEMPOTENCY_RECORDS = "prune_idempotency_records": Write;
    RECORD_API_KEY_USE = "record_api_key_use": Write;
    RECORD_EMAIL_REPORT = "record_email_report": Write;
    RECORD_PAGE_VIEW = "record_page_view": Write;
    RECORD_REMINDER = "record_reminder": QueuesEmail;
    RECORD_RESEND = "record_resend": QueuesEmail;
    REDEEM_JOIN_LINK = "redeem_join_link": Write;
    RELAY_CURSOR = "relay_cursor": Read;
    RELAY_EVENTS_AFTER = "relay_events_after": Read;
    RELAY_LAG = "relay_lag": Read;
    RELEASE_EMAIL_JOBS = "release_email_jobs": Write;
    RELEASE_RELAY_LEASE = "release_relay_lease": Write;
    RELEASE_WEBHOOK_DELIVERIES = "release_webhook_deliveries": Write;
    REVOKE_API_KEY = "revoke_api_key": Write;
    REVOKE_JOIN_LINK = "revoke_join_link": Write;
    SUPPRESSIONS_FOR = "suppressions_for": Read;
    TAKE_RELAY_LEASE = "take_relay_lease": Write;
    UPDATE_BUSINESS = "update_business": Write;
    UPDATE_USER = "update_user": Write;
    UPDATE_WEBHOOK_ENDPOINT = "update_webhook_endpoint": Write;
    WEBHOOK_OUTBOX_DEPTH = "webhook_outbox_depth": Read;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reads_of_a_bulk_run_on_the_pool_and_creates_wake_the_dispatcher() {
        assert!(CONNECTED_AMONG.reads_only());
        assert!(FIND_USERS_BY_EMAILS.reads_only());
        assert!(CREATE_INVITATION.writes() && CREATE_INVITATION.queues_email());
        assert!(INSERT_INVITATIONS.queues_email() && RECORD_RESEND.queues_email());
        assert!(CREATE_INVITATION.hints_email_jobs() && INSERT_INVITATIONS.hints_email_jobs());
        assert!(!RECORD_RESEND.hints_email_jobs() && !RECORD_REMINDER.hints_email_jobs());
        assert!(!APPLY_TRANSITION.queues_email() && APPLY_TRANSITION.writes());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|op| op.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
