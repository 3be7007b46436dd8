-- The flag version follows commit order (issue 11, ADR 0016). Pollers used MAX(flag_audit.id),
-- but identity values are handed out before commit: if A takes id 11 and B id 12 and B commits
-- first, a poller caching 12 never saw A. One counter row, bumped by a trigger inside the
-- transaction that appends the audit entry: the row lock serialises flag changes, so committed
-- values grow in commit order. Every process (also a previous release, which only inserts into
-- flag_audit) bumps it, and the same transaction NOTIFYs channel troupe_flags (delivered at
-- commit) so listeners apply the change at once.
-- Expand only: flag_audit and flags are unchanged, so the previous release keeps working.

CREATE TABLE flag_version (
    id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT   NOT NULL
);

INSERT INTO flag_version (id, version) SELECT 1, COALESCE(MAX(id), 0) FROM flag_audit;

CREATE FUNCTION troupe_flag_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    UPDATE flag_version SET version = version + 1 WHERE id = 1 RETURNING version INTO next;
    PERFORM pg_notify('troupe_flags', next::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER flag_audit_bumps_version AFTER INSERT ON flag_audit
    FOR EACH ROW EXECUTE FUNCTION troupe_flag_version_bump();
