-- Expand: a nullable column with a default is safe for the running release.
ALTER TABLE users ADD COLUMN plan_code VARCHAR(32) NULL DEFAULT 'free';
