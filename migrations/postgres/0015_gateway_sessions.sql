-- Gateway sessions a stopping process leaves for the next one to resume (issue 12), and the
-- slots of rate limits shared by every process of a store (Discord's global REST limit).
-- Runtime state: not part of the portable backup format.

CREATE TABLE gateway_sessions (
    shard_id    BIGINT NOT NULL,
    shard_total BIGINT NOT NULL,
    session_id  TEXT   NOT NULL,
    sequence    BIGINT NOT NULL,
    resume_url  TEXT,
    saved_at    BIGINT NOT NULL,
    PRIMARY KEY (shard_id, shard_total)
);

-- One row per slot of a key: a slot is free again `window` after it was taken, so at most
-- (number of slots) uses fall in any window. Times in microseconds of the database's clock.
CREATE TABLE rate_limit_slots (
    key      TEXT COLLATE "C" NOT NULL,
    slot     BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (key, slot)
);
