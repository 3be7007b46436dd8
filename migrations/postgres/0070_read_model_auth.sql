-- The read model also knows who holds a token (and until when) and who is age-verified
-- (issue 13, ADR 0031): `status` and the message flow asked SQL for both on every use. The
-- tokens themselves (secrets) stay in the database; the model keeps the user and the expiry.
-- The same counter and bump function as migration 0060 (once per transaction, NOTIFY at
-- commit).
-- Expand only: no existing table changes, so the previous release keeps working.

CREATE TRIGGER auth_tokens_bumps_read_model AFTER INSERT OR UPDATE OR DELETE ON auth_tokens
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER auth_tokens_truncate_bumps_read_model AFTER TRUNCATE ON auth_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();

CREATE TRIGGER age_verifications_bumps_read_model
    AFTER INSERT OR UPDATE OR DELETE ON age_verifications
    FOR EACH ROW EXECUTE FUNCTION troupe_read_model_bump();
CREATE TRIGGER age_verifications_truncate_bumps_read_model AFTER TRUNCATE ON age_verifications
    FOR EACH STATEMENT EXECUTE FUNCTION troupe_read_model_bump();
