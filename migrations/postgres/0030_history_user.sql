-- Whose exchange each history turn belongs to (issue 15, ADR 0017): `reset` forgets only the
-- caller's turns of a (channel, personality) history, so each row records the user who wrote
-- the turn, or whom the personality was answering. NULL: not known (rows written before this
-- migration, or by a previous release still running beside this one); a reset by anyone in
-- that (channel, personality) forgets them.
-- Expand only: the previous release inserts without the column and keeps working.

ALTER TABLE history ADD COLUMN user_id BIGINT;

-- A DM has one user: its older turns are that user's.
UPDATE history SET user_id = (
    SELECT MIN(c.user_id) FROM conversations c WHERE c.channel_id = history.channel_id AND c.is_dm
)
WHERE user_id IS NULL
  AND (SELECT COUNT(DISTINCT c.user_id) FROM conversations c
       WHERE c.channel_id = history.channel_id AND c.is_dm) = 1;
