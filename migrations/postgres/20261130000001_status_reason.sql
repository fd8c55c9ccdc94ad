-- Why bulten itself moved a campaign to its status (a message that could not be composed
-- pauses the campaign); cleared when a person changes the status.
ALTER TABLE campaigns ADD COLUMN status_reason TEXT;
