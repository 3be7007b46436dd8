-- Leases of maintenance work shared by every process of a store (issue 14): the backup
-- scheduler runs in the one process holding the `backup-scheduler` lease. Runtime state: not
-- part of the portable backup format.

CREATE TABLE maintenance_leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
