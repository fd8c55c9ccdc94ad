-- no-transaction
-- IDs are never handed out twice. A plain INTEGER PRIMARY KEY takes the largest ID plus
-- one, so deleting the newest subscriber, list, template, campaign, user, API user, import or
-- outbox message gave its ID to the next one, and a client that had cached the ID acted on
-- the wrong record. AUTOINCREMENT keeps
-- the largest ID ever used (as PostgreSQL's sequences do); SQLite adds it only to a new
-- table, so each table is rebuilt as SQLite's documentation prescribes: foreign keys off
-- (which a transaction cannot change, hence no-transaction), a new table, the rows copied
-- with their IDs, the old table dropped and the new one renamed, its indexes made again.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE subscribers_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO subscribers_new (id, uuid, email, name, attribs, status, created_at, updated_at)
    SELECT id, uuid, email, name, attribs, status, created_at, updated_at FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_new RENAME TO subscribers;
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (email);
CREATE UNIQUE INDEX subscribers_uuid_key ON subscribers (uuid);

CREATE TABLE lists_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        BLOB    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT 'private'
                CHECK (type IN ('public', 'private', 'temporary')),
    optin       TEXT    NOT NULL DEFAULT 'single' CHECK (optin IN ('single', 'double')),
    status      TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    tags        TEXT    NOT NULL DEFAULT '[]',
    description TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    language    TEXT    CHECK (language IN ('en', 'tr'))
);
INSERT INTO lists_new (id, uuid, name, type, optin, status, tags, description, created_at,
                       updated_at, language)
    SELECT id, uuid, name, type, optin, status, tags, description, created_at, updated_at,
           language FROM lists;
DROP TABLE lists;
ALTER TABLE lists_new RENAME TO lists;

CREATE TABLE templates_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL CHECK (type IN ('campaign', 'tx')),
    subject     TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
INSERT INTO templates_new (id, name, type, subject, body, is_default, created_at, updated_at)
    SELECT id, name, type, subject, body, is_default, created_at, updated_at FROM templates;
DROP TABLE templates;
ALTER TABLE templates_new RENAME TO templates;
-- At most one default campaign template.
CREATE UNIQUE INDEX templates_one_default ON templates (type) WHERE is_default = 1;

CREATE TABLE campaigns_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         BLOB    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    from_email   TEXT    NOT NULL,
    body         TEXT    NOT NULL DEFAULT '',
    altbody      TEXT,
    content_type TEXT    NOT NULL DEFAULT 'richtext'
                 CHECK (content_type IN ('richtext', 'html', 'markdown', 'plain')),
    type         TEXT    NOT NULL DEFAULT 'regular' CHECK (type IN ('regular', 'optin')),
    status       TEXT    NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled',
                                   'finished')),
    tags         TEXT    NOT NULL DEFAULT '[]',
    template_id  INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    headers      TEXT    NOT NULL DEFAULT '[]',
    attribs      TEXT    NOT NULL DEFAULT '{}',
    messenger    TEXT    NOT NULL DEFAULT 'email',
    send_at      TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    to_send      INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    bounced      INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    status_reason TEXT
);
INSERT INTO campaigns_new (id, uuid, name, subject, from_email, body, altbody, content_type,
                           type, status, tags, template_id, headers, attribs, messenger,
                           send_at, started_at, finished_at, to_send, sent, failed, bounced,
                           skipped, created_at, updated_at, status_reason)
    SELECT id, uuid, name, subject, from_email, body, altbody, content_type, type, status,
           tags, template_id, headers, attribs, messenger, send_at, started_at, finished_at,
           to_send, sent, failed, bounced, skipped, created_at, updated_at, status_reason
    FROM campaigns;
DROP TABLE campaigns;
ALTER TABLE campaigns_new RENAME TO campaigns;

CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    -- Argon2id in PHC string format.
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    status        TEXT    NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
INSERT INTO users_new (id, username, password_hash, role, status, created_at, updated_at)
    SELECT id, username, password_hash, role, status, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE api_users_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the token, hex: tokens are 256 random bits, so a slow hash adds nothing.
    token_hash  TEXT    NOT NULL,
    role        TEXT    NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
INSERT INTO api_users_new (id, name, token_hash, role, created_at, updated_at)
    SELECT id, name, token_hash, role, created_at, updated_at FROM api_users;
DROP TABLE api_users;
ALTER TABLE api_users_new RENAME TO api_users;

CREATE TABLE imports_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO imports_new (id, name, mode, status, overwrite, list_ids, total, imported, failed,
                         error, created_at, updated_at)
    SELECT id, name, mode, status, overwrite, list_ids, total, imported, failed, error,
           created_at, updated_at FROM imports;
DROP TABLE imports;
ALTER TABLE imports_new RENAME TO imports;

CREATE TABLE outbox_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER,
    campaign_id INTEGER,
    mail_from   TEXT    NOT NULL,
    rcpt        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    message     BLOB    NOT NULL,
    created_at  TEXT    NOT NULL
);
INSERT INTO outbox_new (id, delivery_id, campaign_id, mail_from, rcpt, subject, message,
                        created_at)
    SELECT id, delivery_id, campaign_id, mail_from, rcpt, subject, message, created_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

COMMIT;
PRAGMA foreign_keys = ON;
