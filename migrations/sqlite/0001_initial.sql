-- Troupe schema v1 (SQLite). Ids are Discord snowflakes as INTEGER (i64, bit-for-bit),
-- times are milliseconds since the Unix epoch, UTC. Name keys are lower-cased in Rust.

CREATE TABLE personalities (
    name_key      TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    owner_id      INTEGER NOT NULL,
    display_name  TEXT    NOT NULL,
    display_key   TEXT    NOT NULL,
    avatar_url    TEXT,
    error_message TEXT,
    prompt        TEXT    NOT NULL,
    model         TEXT,
    fetched_at    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX personalities_owner ON personalities (owner_id, name_key);
CREATE INDEX personalities_display ON personalities (display_key, name_key);

CREATE TABLE aliases (
    alias_key       TEXT    NOT NULL PRIMARY KEY,
    alias           TEXT    NOT NULL,
    personality_key TEXT    NOT NULL REFERENCES personalities (name_key) ON DELETE CASCADE,
    position        INTEGER NOT NULL
);
CREATE INDEX aliases_personality ON aliases (personality_key, position);

CREATE TABLE channel_activations (
    channel_id      INTEGER NOT NULL PRIMARY KEY,
    personality_key TEXT    NOT NULL REFERENCES personalities (name_key) ON DELETE CASCADE,
    activated_by    INTEGER NOT NULL,
    activated_at    INTEGER NOT NULL
);
CREATE INDEX channel_activations_personality ON channel_activations (personality_key);

CREATE TABLE conversations (
    user_id         INTEGER NOT NULL,
    channel_id      INTEGER NOT NULL,
    personality_key TEXT    NOT NULL REFERENCES personalities (name_key) ON DELETE CASCADE,
    last_activity   INTEGER NOT NULL,
    mode            TEXT    NOT NULL CHECK (mode IN ('continuation', 'mention_only')),
    is_dm           BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);
CREATE INDEX conversations_personality ON conversations (personality_key);

CREATE TABLE history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id      INTEGER NOT NULL,
    personality_key TEXT    NOT NULL REFERENCES personalities (name_key) ON DELETE CASCADE,
    speaker         TEXT    NOT NULL CHECK (speaker IN ('user', 'personality')),
    author          TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX history_thread ON history (channel_id, personality_key, id);
CREATE INDEX history_personality ON history (personality_key);

CREATE TABLE autorespond (
    user_id INTEGER NOT NULL PRIMARY KEY,
    enabled BOOLEAN NOT NULL
);

CREATE TABLE message_map (
    message_id      INTEGER NOT NULL PRIMARY KEY,
    channel_id      INTEGER NOT NULL,
    personality_key TEXT    NOT NULL REFERENCES personalities (name_key) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX message_map_personality ON message_map (personality_key);

CREATE TABLE auth_tokens (
    user_id          INTEGER NOT NULL PRIMARY KEY,
    token_ciphertext BLOB    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

CREATE TABLE age_verifications (
    user_id     INTEGER NOT NULL PRIMARY KEY,
    verified_at INTEGER NOT NULL
);

CREATE TABLE pending_authorizations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    state      TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX pending_authorizations_user ON pending_authorizations (user_id, created_at);

CREATE TABLE notification_preferences (
    user_id       INTEGER NOT NULL PRIMARY KEY,
    opted_in      BOOLEAN NOT NULL,
    level         TEXT    NOT NULL CHECK (level IN ('none', 'major', 'minor', 'patch')),
    last_notified TEXT
);

CREATE TABLE processed_messages (
    message_id INTEGER NOT NULL PRIMARY KEY,
    claimed_at INTEGER NOT NULL
);
CREATE INDEX processed_messages_claimed ON processed_messages (claimed_at);

CREATE TABLE flags (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BOOLEAN NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE flag_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      TEXT    NOT NULL,
    old_value BOOLEAN,
    new_value BOOLEAN,
    actor     TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
