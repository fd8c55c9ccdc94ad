-- Signing up: consent records, the per-address events that rate-limit it, single-use
-- tokens, and a language a list may impose on its pages and mail.

-- What a reader agreed to, per subscription: proof for GDPR and KVKK. `ip` holds the
-- address, its keyed hash, or NULL, as `consent_ip` said when the record was made.
CREATE TABLE consents (
    id              INTEGER PRIMARY KEY,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    list_id         INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    source          TEXT    NOT NULL CHECK (source IN ('form', 'embed', 'api')),
    page            TEXT    NOT NULL DEFAULT '',
    consent_text    TEXT    NOT NULL,
    terms_version   TEXT    NOT NULL,
    terms_url       TEXT    NOT NULL,
    privacy_version TEXT    NOT NULL,
    privacy_url     TEXT    NOT NULL,
    language        TEXT    NOT NULL,
    ip              TEXT,
    user_agent      TEXT    NOT NULL DEFAULT '',
    created_at      TEXT    NOT NULL,
    -- The signup made the subscriber: an unconfirmed signup that expires takes it away.
    created_subscriber INTEGER NOT NULL DEFAULT 0,
    confirmed_at    TEXT
);
CREATE INDEX consents_subscriber ON consents (subscriber_id);
CREATE INDEX consents_list ON consents (list_id, id);

-- Signup attempts and confirmation mails per address (keyed hash, never the address), for
-- the per-address limits; kept for a day.
CREATE TABLE signup_events (
    address_hash TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('attempt', 'confirmation')),
    created_at   TEXT NOT NULL
);
CREATE INDEX signup_events_address ON signup_events (address_hash, kind, created_at);

-- Spent proofs of work and spent confirmation links share one table of single-use keys.
ALTER TABLE captcha_uses RENAME TO spent_tokens;

-- NULL: pages and mail follow the reader's language.
ALTER TABLE lists ADD COLUMN language TEXT CHECK (language IN ('en', 'tr'));
