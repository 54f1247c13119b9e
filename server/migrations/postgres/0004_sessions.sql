-- A sign-in is a session: every refresh token it hands out carries its id, so signing out
-- can revoke them all and refuse sockets opened with its access tokens.
ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN revoked_at BIGINT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
