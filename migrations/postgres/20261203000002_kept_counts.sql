-- Counts kept as rows change, so the dashboard and the lists read a few rows instead of
-- counting a million: readers by status, subscriptions by list and status, and each day's
-- new readers, confirmations, unsubscriptions and sent messages.
--
-- Statement-level triggers append each statement's changes, aggregated, to the *_changes
-- tables in the same transaction, whatever path makes them (COPY included); the ledger's
-- recorder, the one place a message becomes sent, appends its batch. Appending takes no
-- lock another writer waits for, so concurrent signups and imports on several nodes never
-- queue or deadlock on a shared count row. Readers add the pending changes to the counts,
-- and every node folds them in every few seconds (`db::dashboard::fold`).

-- Writers of the old code on other nodes wait until the counts are filled and the triggers
-- exist, so nothing is counted twice or missed.
LOCK TABLE subscribers, subscriber_lists, deliveries IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE subscriber_counts (
    status TEXT   NOT NULL PRIMARY KEY,
    n      BIGINT NOT NULL
);

CREATE TABLE subscription_counts (
    list_id BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    status  TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (list_id, status)
);

-- `day` is YYYY-MM-DD in UTC; `series` one of signups, confirmations, unsubscriptions, sent.
-- Confirmations and unsubscriptions count subscriptions that came to that status that day.
CREATE TABLE daily_counts (
    day    TEXT   NOT NULL,
    series TEXT   NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, series)
);

-- No keys and no foreign keys: an append checks nothing. A deleted list's pending changes
-- are dropped when they are folded.
CREATE TABLE subscriber_count_changes (status TEXT NOT NULL, n BIGINT NOT NULL);
CREATE TABLE subscription_count_changes (list_id BIGINT NOT NULL, status TEXT NOT NULL, n BIGINT NOT NULL);
CREATE TABLE daily_count_changes (day TEXT NOT NULL, series TEXT NOT NULL, n BIGINT NOT NULL);

INSERT INTO subscriber_counts (status, n)
    SELECT status, COUNT(*) FROM subscribers GROUP BY status;
INSERT INTO subscription_counts (list_id, status, n)
    SELECT list_id, status, COUNT(*) FROM subscriber_lists GROUP BY list_id, status;
INSERT INTO daily_counts (day, series, n)
    SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'signups', COUNT(*)
    FROM subscribers GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'confirmations', COUNT(*)
    FROM subscriber_lists WHERE status = 'confirmed' GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'unsubscriptions', COUNT(*)
    FROM subscriber_lists WHERE status = 'unsubscribed' GROUP BY 1;
INSERT INTO daily_counts (day, series, n)
    SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'sent', COUNT(*)
    FROM deliveries WHERE status = 'sent' GROUP BY 1;

-- The new rows counted plus and the old rows counted minus, per status; an update that
-- changes no status appends nothing.
CREATE FUNCTION count_subscribers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO subscriber_count_changes (status, n)
            SELECT status, COUNT(*) FROM new_rows GROUP BY status;
        INSERT INTO daily_count_changes (day, series, n)
            SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'signups', COUNT(*)
            FROM new_rows GROUP BY 1;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO subscriber_count_changes (status, n)
            SELECT status, SUM(d) FROM (
                SELECT status, 1 AS d FROM new_rows
                UNION ALL SELECT status, -1 FROM old_rows
            ) c GROUP BY status HAVING SUM(d) <> 0;
    ELSE
        INSERT INTO subscriber_count_changes (status, n)
            SELECT status, -COUNT(*) FROM old_rows GROUP BY status;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER subscribers_counted_insert AFTER INSERT ON subscribers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_subscribers();
CREATE TRIGGER subscribers_counted_update AFTER UPDATE ON subscribers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_subscribers();
CREATE TRIGGER subscribers_counted_delete AFTER DELETE ON subscribers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_subscribers();

CREATE FUNCTION count_subscriptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO subscription_count_changes (list_id, status, n)
            SELECT list_id, status, COUNT(*) FROM new_rows GROUP BY list_id, status;
        INSERT INTO daily_count_changes (day, series, n)
            SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   CASE status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END,
                   COUNT(*)
            FROM new_rows WHERE status IN ('confirmed', 'unsubscribed') GROUP BY 1, 2;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO subscription_count_changes (list_id, status, n)
            SELECT list_id, status, SUM(d) FROM (
                SELECT list_id, status, 1 AS d FROM new_rows
                UNION ALL SELECT list_id, status, -1 FROM old_rows
            ) c GROUP BY list_id, status HAVING SUM(d) <> 0;
        INSERT INTO daily_count_changes (day, series, n)
            SELECT to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   CASE r.status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END,
                   COUNT(*)
            FROM new_rows r
            JOIN old_rows o ON o.subscriber_id = r.subscriber_id AND o.list_id = r.list_id
            WHERE r.status IN ('confirmed', 'unsubscribed') AND o.status <> r.status
            GROUP BY 1, 2;
    ELSE
        INSERT INTO subscription_count_changes (list_id, status, n)
            SELECT list_id, status, -COUNT(*) FROM old_rows GROUP BY list_id, status;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER subscriptions_counted_insert AFTER INSERT ON subscriber_lists
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_subscriptions();
CREATE TRIGGER subscriptions_counted_update AFTER UPDATE ON subscriber_lists
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_subscriptions();
CREATE TRIGGER subscriptions_counted_delete AFTER DELETE ON subscriber_lists
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_subscriptions();
