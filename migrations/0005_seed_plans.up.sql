-- Seed data the application expects to find.
INSERT INTO plans (code, name, monthly_cents) VALUES
    ('free', 'Free', 0),
    ('team', 'Team', 1900),
    ('business', 'Business', 9900);
