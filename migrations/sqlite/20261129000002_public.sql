-- Proofs of work already spent: each solved ALTCHA challenge is accepted once, until it
-- would have expired anyway.
CREATE TABLE captcha_uses (
    signature   TEXT        PRIMARY KEY,
    expires_at  TEXT NOT NULL
);
CREATE INDEX captcha_uses_expires ON captcha_uses (expires_at);
