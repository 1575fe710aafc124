CREATE TABLE plans (
    code VARCHAR(32) NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    monthly_cents INT NOT NULL
);
