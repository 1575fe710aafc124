ALTER TABLE users DROP COLUMN plan_code;
