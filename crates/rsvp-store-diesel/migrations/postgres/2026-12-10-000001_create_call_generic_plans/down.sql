-- The procedure as migration 2026-12-06-000001_email_cap_minutes wrote it.
CREATE OR REPLACE PROCEDURE rsvp_create_invitation(
    p_id TEXT, p_business_id TEXT, p_sent_by_user_id TEXT, p_email TEXT, p_email_normalized TEXT,
    p_status TEXT, p_message TEXT, p_custom_data TEXT, p_roles TEXT, p_first_name TEXT, p_last_name TEXT,
    p_phone TEXT, p_external_id TEXT, p_source_is_invitee BOOLEAN, p_expires_at BIGINT, p_created_at BIGINT,
    p_updated_at BIGINT, p_email_delivery TEXT, p_last_sent_at BIGINT, p_redirect_url TEXT, p_locale TEXT,
    p_token_hash TEXT, p_link_created_at BIGINT,
    p_event_id TEXT, p_event_kind TEXT, p_event_occurred_at BIGINT, p_event_data TEXT,
    p_job_id TEXT, p_job_to_email TEXT, p_job_link_token TEXT, p_job_status TEXT, p_job_next_attempt_at BIGINT,
    p_job_created_at BIGINT,
    p_cap INTEGER, p_minute BIGINT, p_window_start BIGINT,
    INOUT p_outcome TEXT DEFAULT NULL, INOUT p_invitee_business TEXT DEFAULT NULL,
    INOUT p_oldest_minute BIGINT DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    v_user_business TEXT;
    v_queued BIGINT;
    v_counted BOOLEAN := FALSE;
BEGIN
    SELECT u.business_id INTO v_user_business FROM users u WHERE u.email_normalized = p_email_normalized;
    IF v_user_business = p_business_id
       OR (v_user_business IS NOT NULL AND EXISTS (
           SELECT 1 FROM connections c
           WHERE (c.business_low = v_user_business AND c.business_high = p_business_id)
              OR (c.business_low = p_business_id AND c.business_high = v_user_business)))
       OR EXISTS (SELECT 1 FROM invitations i
                  WHERE i.business_id = p_business_id AND i.email_normalized = p_email_normalized
                    AND i.status = 'pending')
       OR EXISTS (SELECT 1 FROM suppressions s
                  WHERE s.email_normalized = p_email_normalized
                    AND (s.business_id IS NULL OR s.business_id = p_business_id))
    THEN
        p_outcome := 'refused';
        RETURN;
    END IF;
    p_invitee_business := v_user_business;

    IF p_job_id IS NOT NULL AND p_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(1920169584, hashtext(p_business_id));
        SELECT coalesce(sum(queued), 0), min(minute) INTO v_queued, p_oldest_minute
        FROM email_cap_minutes WHERE business_id = p_business_id AND minute >= p_window_start;
        IF v_queued >= p_cap THEN
            p_outcome := 'capped';
            p_oldest_minute := coalesce(p_oldest_minute, p_minute);
            RETURN;
        END IF;
        p_oldest_minute := NULL;
        INSERT INTO email_cap_minutes AS b (business_id, minute, queued) VALUES (p_business_id, p_minute, 1)
        ON CONFLICT (business_id, minute) DO UPDATE SET queued = b.queued + 1;
        DELETE FROM email_cap_minutes WHERE business_id = p_business_id AND minute < p_window_start;
        PERFORM set_config('synchronous_commit', 'off', true);
        COMMIT;
        v_counted := TRUE;
    END IF;

    INSERT INTO invitations (id, business_id, sent_by_user_id, email, email_normalized, status, message,
        custom_data, roles, first_name, last_name, phone, external_id, source_is_invitee, invitee_business_id,
        expires_at, created_at, updated_at, resolved_at, email_delivery, last_sent_at, redirect_url, locale)
    VALUES (p_id, p_business_id, p_sent_by_user_id, p_email, p_email_normalized, p_status, p_message,
        p_custom_data, p_roles, p_first_name, p_last_name, p_phone, p_external_id, p_source_is_invitee,
        v_user_business, p_expires_at, p_created_at, p_updated_at, NULL, p_email_delivery, p_last_sent_at,
        p_redirect_url, p_locale)
    ON CONFLICT (business_id, email_normalized) WHERE status = 'pending' DO NOTHING;
    IF NOT FOUND THEN
        IF v_counted THEN
            UPDATE email_cap_minutes SET queued = queued - 1
            WHERE business_id = p_business_id AND minute = p_minute;
        END IF;
        p_outcome := 'already_invited';
        RETURN;
    END IF;
    INSERT INTO link_tokens (token_hash, invitation_id, created_at, revoked_at)
    VALUES (p_token_hash, p_id, p_link_created_at, NULL);
    INSERT INTO events (id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data)
    VALUES (p_event_id, p_event_kind, p_id, p_business_id, v_user_business, p_event_occurred_at, p_event_data);
    IF p_job_id IS NOT NULL THEN
        INSERT INTO email_jobs (id, invitation_id, to_email, link_token, attempts, status, next_attempt_at,
            last_error, created_at, updated_at, business_id)
        VALUES (p_job_id, p_id, p_job_to_email, p_job_link_token, 0, p_job_status, p_job_next_attempt_at, NULL,
            p_job_created_at, p_job_created_at, p_business_id);
    END IF;
    -- The event's webhook deliveries (as rsvp-store-diesel's queue_for_event_sql).
    INSERT INTO webhook_deliveries (endpoint_id, id, business_id, event_id, event_type, payload, occurred_at,
        attempts, status, next_attempt_at, response_status, duration_ms, attempted_at, last_error, created_at)
    SELECT e.id, p_event_id, e.business_id, p_event_id, p_event_kind, NULL, p_event_occurred_at, 0, 'pending',
        p_event_occurred_at, NULL, NULL, NULL, NULL, p_event_occurred_at
    FROM webhook_endpoints AS e
    WHERE e.business_id IN (p_business_id, v_user_business) AND e.enabled
      AND (e.event_types = '' OR e.event_types LIKE '%,' || p_event_kind || ',%');
    p_outcome := 'created';
END;
$$;
