-- A web sign-in is a staff token that expires; API tokens (NULL) do not.
-- Milliseconds since the Unix epoch, like every time in this schema.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
