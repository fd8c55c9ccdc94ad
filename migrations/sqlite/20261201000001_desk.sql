-- The desk: staff sessions, failed sign-ins, and what a user must do next.

-- Set when an admin resets the password: the next sign-in must choose a new one.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
-- The desk's language the user chose (`en`, `tr`); NULL: the browser's.
ALTER TABLE users ADD COLUMN language TEXT;
-- The second factor: a TOTP secret (base32) once enrolled; the one being enrolled until its
-- first code confirms it; the last time step a code was accepted for, so each code signs in
-- once only.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- Single-use codes for a lost authenticator, shown once at enrolment; only hashes are kept.
CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TEXT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- One row per signed-in browser. The cookie holds a random id; only its SHA-256 is kept,
-- so a copy of the table signs nobody in.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Every state-changing request of the desk carries it.
    csrf_token   TEXT    NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed sign-ins, by account and by address: a lockout is a count in a window, so it ends
-- by itself as rows age out, and an admin lifts it by deleting the account's rows.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    username TEXT    NOT NULL,
    ip       TEXT    NOT NULL,
    at       TEXT    NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

-- Every change made by a person on the desk or a program through the API (readers' own
-- actions have their records in consents and signup_events): who, when, from where, what,
-- on which object, with the relevant state before and after.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    -- user (the desk), api (a program), cli, system
    actor_kind  TEXT NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL,
    ip          TEXT,
    action      TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id   INTEGER,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_name, at);
CREATE INDEX audit_log_object ON audit_log (object_kind, object_id, at);
