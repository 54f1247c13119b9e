-- Accounts an admin disabled keep their rows (activity names them) but may not sign in.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
