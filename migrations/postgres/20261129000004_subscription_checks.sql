-- The subscription reference check, made cheap for bulk writers.
--
-- The lists are checked once per distinct list instead of once per row. The per-row
-- subscriber probe is skipped when the writing transaction has set
-- `bulten.subscribers_held = 'on'`, which says that every subscriber its subscriptions name
-- was inserted or locked by the same statement: the import does so, and the probe would
-- repeat an index lookup per row that cannot fail.
CREATE OR REPLACE FUNCTION subscriber_lists_check_references() RETURNS trigger
LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    wanted BIGINT[];
    found  INTEGER;
BEGIN
    SELECT array_agg(DISTINCT list_id) INTO wanted FROM new_rows;
    IF wanted IS NULL THEN
        RETURN NULL;
    END IF;
    -- Locked as a foreign key would lock them, so a list deleted meanwhile waits for this
    -- transaction and then takes its subscriptions with it.
    SELECT count(*) INTO found FROM (SELECT 1 FROM lists WHERE id = ANY (wanted) FOR KEY SHARE) AS l;
    IF found < cardinality(wanted) OR (
        current_setting('bulten.subscribers_held', true) IS DISTINCT FROM 'on'
        AND EXISTS (
            SELECT 1 FROM new_rows n
            WHERE NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = n.subscriber_id)
        )
    ) THEN
        RAISE EXCEPTION 'a subscription refers to a missing subscriber or list'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
