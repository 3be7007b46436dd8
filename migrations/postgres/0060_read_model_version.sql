-- The read model's change counter (issue 13, ADR 0031). Each Store keeps the hot reads of the
-- personality registry (names, aliases, display keys, owners), the channel activations and the
-- autorespond set in memory; this one counter row tells it that any process changed one of the
-- tables behind them. A trigger bumps it in the transaction of every row change (and of a
-- TRUNCATE): the row lock serialises those transactions, so committed values grow in commit
-- order, and a writer that locks the row first (SELECT ... FOR UPDATE) and reads it again at
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

CREATE FUNCTION troupe_read_model_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
    PERFORM pg_notify('troupe_reads', '');
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
