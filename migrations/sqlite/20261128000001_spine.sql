-- Subscribers, lists, subscriptions, users and imports.
-- Timestamps are fixed-width UTC text (2026-11-28T10:00:00.000000Z) so they sort as they read;
-- JSON columns hold text; UUIDs are 16-byte blobs.

CREATE TABLE subscribers (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL,
    -- Canonical form (see domain::EmailAddress): comparing it is comparing case-insensitively.
    email       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    attribs     TEXT    NOT NULL DEFAULT '{}',
    status      TEXT    NOT NULL DEFAULT 'enabled'
                CHECK (status IN ('enabled', 'disabled', 'blocklisted')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (email);
CREATE UNIQUE INDEX subscribers_uuid_key ON subscribers (uuid);

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY,
    uuid        BLOB    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT 'private'
                CHECK (type IN ('public', 'private', 'temporary')),
    optin       TEXT    NOT NULL DEFAULT 'single' CHECK (optin IN ('single', 'double')),
    status      TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    tags        TEXT    NOT NULL DEFAULT '[]',
    description TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE subscriber_lists (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    list_id       INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    status        TEXT    NOT NULL DEFAULT 'unconfirmed'
                  CHECK (status IN ('unconfirmed', 'confirmed', 'unsubscribed')),
    meta          TEXT    NOT NULL DEFAULT '{}',
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (subscriber_id, list_id)
) WITHOUT ROWID;
CREATE INDEX subscriber_lists_list_status ON subscriber_lists (list_id, status);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    -- Argon2id in PHC string format.
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    status        TEXT    NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE TABLE api_users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the token, hex: tokens are 256 random bits, so a slow hash adds nothing.
    token_hash  TEXT    NOT NULL,
    role        TEXT    NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    mode        TEXT    NOT NULL CHECK (mode IN ('subscribe', 'blocklist')),
    status      TEXT    NOT NULL
                CHECK (status IN ('importing', 'stopping', 'stopped', 'finished', 'failed')),
    overwrite   INTEGER NOT NULL DEFAULT 0,
    list_ids    TEXT    NOT NULL DEFAULT '[]',
    total       INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE import_logs (
    id          INTEGER PRIMARY KEY,
    import_id   INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line        INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX import_logs_import ON import_logs (import_id, line);
