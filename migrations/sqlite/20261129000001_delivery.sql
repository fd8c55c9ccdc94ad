-- Templates, campaigns, the delivery ledger, the outbox, suppressions and shared secrets.

-- Secrets every node must agree on (the key that signs links and VERP addresses), made on the
-- first start and read by every later one.
CREATE TABLE secrets (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

CREATE TABLE templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL CHECK (type IN ('campaign', 'tx')),
    subject     TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
-- At most one default campaign template.
CREATE UNIQUE INDEX templates_one_default ON templates (type) WHERE is_default = 1;

CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
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
    updated_at   TEXT    NOT NULL
);

-- The lists a campaign targets; the name is kept so a deleted list still shows.
CREATE TABLE campaign_lists (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    list_id     INTEGER REFERENCES lists (id) ON DELETE SET NULL,
    list_name   TEXT    NOT NULL
);
CREATE INDEX campaign_lists_campaign ON campaign_lists (campaign_id);

-- The ledger: one row per message to send. Campaign rows are written in one statement when
-- the campaign starts; transactional rows carry their rendered message. A row is claimed under
-- a lease, and its outcome is written after the SMTP server answered, so a crash loses nothing:
-- an expired lease puts the row back in the queue.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    -- NULL for transactional mail, which is sent ahead of campaign rows.
    campaign_id     INTEGER REFERENCES campaigns (id) ON DELETE CASCADE,
    -- No foreign key: a subscriber deleted mid-campaign is skipped when its row is claimed.
    subscriber_id   INTEGER,
    status          TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced',
                                      'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    rcpt            TEXT,
    mail_from       TEXT,
    message         BLOB,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT
);
CREATE UNIQUE INDEX deliveries_campaign_subscriber ON deliveries (campaign_id, subscriber_id)
    WHERE campaign_id IS NOT NULL;
CREATE INDEX deliveries_queue ON deliveries (campaign_id, id) WHERE status = 'queued';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';

-- Messages kept by the outbox transport instead of being sent.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER,
    campaign_id INTEGER,
    mail_from   TEXT    NOT NULL,
    rcpt        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    message     BLOB    NOT NULL,
    created_at  TEXT    NOT NULL
);

-- Addresses never to mail again, by keyed hash (the address itself is not kept).
CREATE TABLE suppressions (
    email_hash  TEXT    PRIMARY KEY,
    reason      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
