-- The read model also knows who holds a token (and until when) and who is age-verified
-- (issue 13, ADR 0031): `status` and the message flow asked SQL for both on every use. The
-- tokens themselves (secrets) stay in the database; the model keeps the user and the expiry.
-- The same counter as migration 0060, bumped by the same kind of trigger.
-- Expand only: no existing table changes, so the previous release keeps working.

CREATE TRIGGER auth_tokens_insert_bumps_read_model AFTER INSERT ON auth_tokens
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER auth_tokens_update_bumps_read_model AFTER UPDATE ON auth_tokens
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER auth_tokens_delete_bumps_read_model AFTER DELETE ON auth_tokens
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER age_verifications_insert_bumps_read_model AFTER INSERT ON age_verifications
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER age_verifications_update_bumps_read_model AFTER UPDATE ON age_verifications
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER age_verifications_delete_bumps_read_model AFTER DELETE ON age_verifications
BEGIN
    UPDATE read_model_version SET version = version + 1 WHERE id = 1;
END;
