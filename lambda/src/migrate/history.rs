//! The history table, compatible with sqlx's `_sqlx_migrations`, so a
//! project that used `sqlx migrate run` switches without a baseline.

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub description: String,
    /// `false`: the migration failed part way (MariaDB DDL commits as it goes).
    pub success: bool,
    pub checksum: Vec<u8>,
    pub execution_time_ns: i64,
}

pub const TABLE: &str = "_sqlx_migrations";
