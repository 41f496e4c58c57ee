-- Push notifications: residents' devices and preferences, and one table that is
-- both the outbox (producers insert in the transaction of the event that causes
-- the message; senders deliver) and the in-app inbox.

CREATE TABLE devices (
    installation_id     text PRIMARY KEY,          -- Firebase installation ID (messages are addressed by fid)
    resident_id         bigint NOT NULL REFERENCES residents (id),
    city_id             integer NOT NULL REFERENCES cities (id),
    registration_token  text,                      -- for app versions that only have an FCM token
    platform            text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    app_version         text NOT NULL,
    locale              text,
    active              boolean NOT NULL DEFAULT true,
    deactivated_reason  text,                      -- e.g. UNREGISTERED from FCM
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_resident ON devices (resident_id) WHERE active;

CREATE TABLE notification_settings (
    resident_id     bigint PRIMARY KEY REFERENCES residents (id),
    reminders       boolean NOT NULL DEFAULT true,
    campaign_news   boolean NOT NULL DEFAULT true,
    achievements    boolean NOT NULL DEFAULT true,
    weekly_summary  boolean NOT NULL DEFAULT true,
    quiet_start     time NOT NULL DEFAULT '21:00',
    quiet_end       time NOT NULL DEFAULT '08:00',
    daily_cap       integer NOT NULL DEFAULT 3 CHECK (daily_cap BETWEEN 0 AND 20),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id    bigint NOT NULL REFERENCES residents (id),
    city_id        integer NOT NULL REFERENCES cities (id),
    kind           text NOT NULL CHECK (kind IN ('reminder', 'campaign_news', 'achievement', 'weekly_summary', 'broadcast')),
    campaign_id    integer REFERENCES campaigns (id),
    dedupe_key     text NOT NULL,                 -- a producer's idempotency key, unique per resident
    title          text NOT NULL,
    body           text NOT NULL,
    data           jsonb NOT NULL DEFAULT '{}',
    locale         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    not_before     timestamptz NOT NULL DEFAULT now(),   -- quiet hours and schedules defer here
    expires_at     timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dropped', 'expired')),
    status_reason  text,
    read_at        timestamptz,
    UNIQUE (resident_id, dedupe_key)
);
CREATE INDEX notifications_due ON notifications (not_before) WHERE status = 'pending';
CREATE INDEX notifications_inbox ON notifications (resident_id, created_at DESC, id DESC);

-- One row per message and device; a device gets a message at most once.
CREATE TABLE notification_deliveries (
    notification_id  bigint NOT NULL REFERENCES notifications (id),
    installation_id  text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_at       timestamptz,                 -- when a sender took it (status sending)
    fcm_message_id   text,
    PRIMARY KEY (notification_id, installation_id)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'pending';

-- Every attempt, for coordinators' and researchers' audit.
CREATE TABLE notification_attempts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id  bigint NOT NULL REFERENCES notifications (id),
    installation_id  text NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    outcome          text NOT NULL,                -- sent, or the FCM error code
    fcm_message_id   text,
    detail           text
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id);
