-- Counts kept as rows change, so the dashboard and the lists read a few rows instead of
-- counting a million: readers by status, subscriptions by list and status, and each day's
-- new readers, confirmations, unsubscriptions and sent messages. Statement-level triggers
-- keep the first three in the same transaction as the change, whatever path makes it
-- (COPY included), with one aggregated write per statement; the ledger's recorder, the one
-- place a message becomes sent, adds its batch to the day's `sent`.

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
-- Confirmations and unsubscriptions count changes of a subscription to that status.
CREATE TABLE daily_counts (
    day    TEXT   NOT NULL,
    series TEXT   NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, series)
);

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

-- A status change adds one to the new status and takes one from the old: the new rows
-- counted plus, the old rows counted minus, per status.
CREATE FUNCTION count_subscribers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE subscriber_counts c SET n = c.n - o.n
        FROM (SELECT status, COUNT(*) AS n FROM old_rows GROUP BY status) o
        WHERE c.status = o.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO subscriber_counts (status, n)
            SELECT status, COUNT(*) FROM new_rows GROUP BY status
        ON CONFLICT (status) DO UPDATE SET n = subscriber_counts.n + EXCLUDED.n;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO daily_counts (day, series, n)
            SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 'signups', COUNT(*)
            FROM new_rows GROUP BY 1
        ON CONFLICT (day, series) DO UPDATE SET n = daily_counts.n + EXCLUDED.n;
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
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE subscription_counts c SET n = c.n - o.n
        FROM (SELECT list_id, status, COUNT(*) AS n FROM old_rows GROUP BY list_id, status) o
        WHERE c.list_id = o.list_id AND c.status = o.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO subscription_counts (list_id, status, n)
            SELECT list_id, status, COUNT(*) FROM new_rows GROUP BY list_id, status
        ON CONFLICT (list_id, status) DO UPDATE SET n = subscription_counts.n + EXCLUDED.n;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO daily_counts (day, series, n)
            SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   CASE status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END,
                   COUNT(*)
            FROM new_rows WHERE status IN ('confirmed', 'unsubscribed') GROUP BY 1, 2
        ON CONFLICT (day, series) DO UPDATE SET n = daily_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO daily_counts (day, series, n)
            SELECT to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                   CASE r.status WHEN 'confirmed' THEN 'confirmations' ELSE 'unsubscriptions' END,
                   COUNT(*)
            FROM new_rows r
            JOIN old_rows o ON o.subscriber_id = r.subscriber_id AND o.list_id = r.list_id
            WHERE r.status IN ('confirmed', 'unsubscribed') AND o.status <> r.status
            GROUP BY 1, 2
        ON CONFLICT (day, series) DO UPDATE SET n = daily_counts.n + EXCLUDED.n;
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
