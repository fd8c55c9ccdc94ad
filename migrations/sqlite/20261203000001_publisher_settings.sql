-- The publisher's settings changed on the desk (brand, terms, captcha, signup limits), one
-- row per setting, the value as text. Every node reads them again every few seconds, so a
-- change applies everywhere without a restart. A setting the file or the environment fixes
-- is never read from here.

CREATE TABLE publisher_settings (
    name       TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
