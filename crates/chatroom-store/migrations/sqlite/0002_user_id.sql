-- The sender's user id (stable across renames); NULL for messages stored before identities
-- existed and for senders without one.
ALTER TABLE messages ADD COLUMN user_id TEXT NULL;
