-- The flag version follows commit order (issue 11, ADR 0016). Pollers used MAX(flag_audit.id),
-- but ids are handed out before commit, so a change committed after a later id was missed.
-- One counter row, bumped by a trigger inside the transaction that appends the audit entry:
-- every process (also a previous release, which only inserts into flag_audit) bumps it, and
-- the committed values grow in commit order (SQLite serialises writers).
-- Expand only: flag_audit and flags are unchanged, so the previous release keeps working.

CREATE TABLE flag_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);

INSERT INTO flag_version (id, version) SELECT 1, COALESCE(MAX(id), 0) FROM flag_audit;

CREATE TRIGGER flag_audit_bumps_version AFTER INSERT ON flag_audit
BEGIN
    UPDATE flag_version SET version = version + 1 WHERE id = 1;
END;
