-- The read model's change counter (issue 13, ADR 0031). Each Store keeps the hot reads of the
-- personality registry (names, aliases, display keys, owners), the channel activations and the
-- autorespond set in memory; this one counter row tells it that any process changed one of the
-- tables behind them. A trigger bumps it in the transaction of every row change, so the
-- committed values grow in commit order (SQLite serialises writers), and a writer that reads
-- it at the start and at the end of its transaction knows the changes between were its own.
-- Every process bumps it, also the previous release, which knows nothing of it.
-- Expand only: no existing table changes, so the previous release keeps working.

CREATE TABLE read_model_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);

INSERT INTO read_model_version (id, version) VALUES (1, 0);

CREATE TRIGGER personalities_insert_bumps_read_model AFTER INSERT ON personalities
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER personalities_update_bumps_read_model AFTER UPDATE ON personalities
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER personalities_delete_bumps_read_model AFTER DELETE ON personalities
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER aliases_insert_bumps_read_model AFTER INSERT ON aliases
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER aliases_update_bumps_read_model AFTER UPDATE ON aliases
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER aliases_delete_bumps_read_model AFTER DELETE ON aliases
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER channel_activations_insert_bumps_read_model AFTER INSERT ON channel_activations
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER channel_activations_update_bumps_read_model AFTER UPDATE ON channel_activations
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER channel_activations_delete_bumps_read_model AFTER DELETE ON channel_activations
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER autorespond_insert_bumps_read_model AFTER INSERT ON autorespond
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER autorespond_update_bumps_read_model AFTER UPDATE ON autorespond
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER autorespond_delete_bumps_read_model AFTER DELETE ON autorespond
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
