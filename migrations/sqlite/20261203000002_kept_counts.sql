-- Counts kept as rows change, so the dashboard and the lists read a few rows instead of
-- counting a million: readers by status, subscriptions by list and status, and each day's
-- new readers, confirmations, unsubscriptions and sent messages. Triggers keep them in the
-- same transaction as the change, whatever path makes it; the ledger's recorder, the one
-- place a message becomes sent, appends its batch to `daily_count_changes`.

CREATE TABLE subscriber_counts (
    status TEXT    NOT NULL PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE subscription_counts (
    list_id INTEGER NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    status  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (list_id, status)
) WITHOUT ROWID;

-- `day` is YYYY-MM-DD in UTC; `series` one of signups, confirmations, unsubscriptions, sent.
-- Confirmations and unsubscriptions count changes of a subscription to that status.
CREATE TABLE daily_counts (
    day    TEXT    NOT NULL,
    series TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (day, series)
) WITHOUT ROWID;

INSERT INTO subscriber_counts (status, n)
    SELECT status, COUNT(*) FROM subscribers GROUP BY status;
INSERT INTO subscription_counts (list_id, status, n)
    SELECT list_id, status, COUNT(*) FROM subscriber_lists GROUP BY list_id, status;
INSERT INTO daily_counts (day, series, n)
    SELECT substr(created_at, 1, 10), 'signups', COUNT(*) FROM subscribers GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT substr(updated_at, 1, 10), 'confirmations', COUNT(*) FROM subscriber_lists
    WHERE status = 'confirmed' GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT substr(updated_at, 1, 10), 'unsubscriptions', COUNT(*) FROM subscriber_lists
    WHERE status = 'unsubscribed' GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT substr(updated_at, 1, 10), 'sent', COUNT(*) FROM deliveries
    WHERE status = 'sent' GROUP BY 1;

-- The ledger's recorder appends its batches of sent messages here, as it does on
-- PostgreSQL, where every count goes through such a table; they are folded into
-- `daily_counts` every few seconds. (SQLite has one writer at a time, so its triggers write
-- the counts directly.)
CREATE TABLE subscriber_count_changes (status TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE subscription_count_changes (list_id INTEGER NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE daily_count_changes (day TEXT NOT NULL, series TEXT NOT NULL, n INTEGER NOT NULL);

-- While a row here names a table, its insert trigger stands aside: the importer, which
-- inserts a batch of new rows in one statement, adds the batch's counts itself in one write
-- (SQLite has no statement-level triggers, and a trigger per row cost an import a sixth of
-- its speed). It writes and removes the row inside its own write transaction, so no other
-- writer ever sees it.
CREATE TABLE counting_paused (
    what TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;

CREATE TRIGGER subscribers_counted_insert AFTER INSERT ON subscribers
WHEN NOT EXISTS (SELECT 1 FROM counting_paused WHERE what = 'subscribers') BEGIN
    INSERT INTO subscriber_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
    INSERT INTO daily_counts (day, series, n) VALUES (substr(NEW.created_at, 1, 10), 'signups', 1)
        ON CONFLICT (day, series) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER subscribers_counted_update AFTER UPDATE OF status ON subscribers
WHEN OLD.status <> NEW.status BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO subscriber_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER subscribers_counted_delete AFTER DELETE ON subscribers BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = OLD.status;
END;

CREATE TRIGGER subscriptions_counted_insert AFTER INSERT ON subscriber_lists
WHEN NOT EXISTS (SELECT 1 FROM counting_paused WHERE what = 'subscriptions') BEGIN
    INSERT INTO subscription_counts (list_id, status, n) VALUES (NEW.list_id, NEW.status, 1)
        ON CONFLICT (list_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO daily_counts (day, series, n)
        SELECT substr(NEW.updated_at, 1, 10),
               CASE NEW.status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END, 1
        WHERE NEW.status IN ('confirmed', 'unsubscribed')
        ON CONFLICT (day, series) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER subscriptions_counted_update AFTER UPDATE OF status ON subscriber_lists
WHEN OLD.status <> NEW.status BEGIN
    UPDATE subscription_counts SET n = n - 1
        WHERE list_id = OLD.list_id AND status = OLD.status;
    INSERT INTO subscription_counts (list_id, status, n) VALUES (NEW.list_id, NEW.status, 1)
        ON CONFLICT (list_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO daily_counts (day, series, n)
        SELECT substr(NEW.updated_at, 1, 10),
               CASE NEW.status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END, 1
        WHERE NEW.status IN ('confirmed', 'unsubscribed')
        ON CONFLICT (day, series) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER subscriptions_counted_delete AFTER DELETE ON subscriber_lists BEGIN
    UPDATE subscription_counts SET n = n - 1
        WHERE list_id = OLD.list_id AND status = OLD.status;
END;
