-- Limits to some lists, as listmonk's list permissions: a user or API user whose
-- `lists_limited` is set reaches only the lists of its rows below, each to read ('get') or
-- also to change ('manage'). Admins are never limited.

ALTER TABLE users ADD COLUMN lists_limited BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_users ADD COLUMN lists_limited BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE user_lists (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    list_id BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    access  TEXT   NOT NULL CHECK (access IN ('get', 'manage')),
    PRIMARY KEY (user_id, list_id)
);

CREATE TABLE api_user_lists (
    api_user_id BIGINT NOT NULL REFERENCES api_users (id) ON DELETE CASCADE,
    list_id     BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    access      TEXT   NOT NULL CHECK (access IN ('get', 'manage')),
    PRIMARY KEY (api_user_id, list_id)
);
