-- A web sign-in is a staff token that expires; API tokens (NULL) do not.
ALTER TABLE tokens ADD COLUMN expires_at timestamptz;
