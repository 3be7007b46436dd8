-- The read model's change counter (issue 13, ADR 0031). Each Store keeps the hot reads of the
-- personality registry (names, aliases, display keys, owners), the channel activations and the
-- autorespond set in memory; this one counter row tells it that any process changed one of the
-- tables behind them. A trigger bumps it once in every transaction that changes a row of (or
-- TRUNCATEs) one of them: the row lock serialises those transactions, so committed values grow
-- in commit order, and a writer that locks the row first (SELECT ... FOR UPDATE) and reads it again at
-- the end knows the changes between were its own. The same transaction NOTIFYs channel
-- troupe_reads (delivered at commit; one notification per transaction, the payload is
-- constant) so the other processes rebuild their model in milliseconds.
-- Every process bumps it, also the previous release, which knows nothing of it.
-- Expand only: no existing table changes, so the previous release keeps working.

CREATE TABLE read_model_version (
    id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT   NOT NULL
);

INSERT INTO read_model_version (id, version) VALUES (1, 0);

-- Once per transaction: a transaction-local setting remembers the bump (it ends, or is rolled
-- back, with the transaction or savepoint). Updating the one row once per changed row would
-- make a bulk write (restore, import: thousands of rows in one transaction) quadratic, since
-- every new version of the row extends a chain the same transaction cannot prune.
CREATE FUNCTION troupe_read_model_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('troupe.read_model_bumped', true) IS DISTINCT FROM 'yes' THEN
        UPDATE read_model_version SET version = version + 1 WHERE id = 1;
        PERFORM set_config('troupe.read_model_bumped', 'yes', true);
        PERFORM pg_notify('troupe_reads', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER personalities_bumps_read_model AFTER INSERT OR UPDATE OR DELETE ON personalities
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER personalities_truncate_bumps_read_model AFTER TRUNCATE ON personalities
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();

CREATE TRIGGER aliases_bumps_read_model AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER aliases_truncate_bumps_read_model AFTER TRUNCATE ON aliases
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();

CREATE TRIGGER channel_activations_bumps_read_model
    AFTER INSERT OR UPDATE OR DELETE ON channel_activations
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER channel_activations_truncate_bumps_read_model AFTER TRUNCATE ON channel_activations
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();

CREATE TRIGGER autorespond_bumps_read_model AFTER INSERT OR UPDATE OR DELETE ON autorespond
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER autorespond_truncate_bumps_read_model AFTER TRUNCATE ON autorespond
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();
