-- The fleet registry (issue 16, ADR 0040): every running process records itself here and
-- refreshes its row every few seconds (`last_seen`, microseconds of the database's clock, the
-- one clock every process shares). A row not refreshed for a while is a process that is gone:
-- readers leave it out, and the next heartbeat of any process deletes it for good.
-- `flag_version` is the flag version (migration 0016) this process has applied, so a flag
-- change can be confirmed fleet-wide. Shard columns are NULL for a process without shards.
-- Expand only: the previous release never reads or writes this table.

CREATE TABLE fleet_processes (
    id           TEXT   NOT NULL PRIMARY KEY,
    host         TEXT   NOT NULL,
    version      TEXT   NOT NULL,
    role         TEXT   NOT NULL,
    shard_total  BIGINT,
    shard_start  BIGINT,
    shard_end    BIGINT,
    gateway      TEXT   NOT NULL,
    flag_version BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL
);

CREATE INDEX fleet_processes_last_seen ON fleet_processes (last_seen);
