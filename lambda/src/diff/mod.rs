//! `schemagate diff --url A --url B`: do two databases hold the same schema
//! — tables, columns with their types, nullability and defaults, indexes,
//! foreign keys and other constraints — leaving out the bookkeeping tables
//! (`_sqlx_migrations`, `_schemagate_history`, `alembic_version`)? The
//! proof that an imported history builds what Alembic built.
//!
//! Read from the catalog with one query per kind of object ([`mariadb`],
//! [`postgres`]), each definition as the server itself writes it, and
//! compared as text ([`schema`]). Not sea-schema (the well-kept crate for
//! schema discovery): its PostgreSQL discovery has no non-unique indexes,
//! and it parses types into an enum that maps what it does not know to one
//! value, so two different types could compare equal.

pub mod mariadb;
pub mod postgres;
pub mod read;
pub mod schema;

pub use read::read;
pub use schema::{compare, Column, Difference, Schema, Table, IGNORED};
