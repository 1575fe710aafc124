DROP INDEX idx_users_email ON users;
