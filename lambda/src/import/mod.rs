//! Moving a history over from another tool: `schemagate import alembic`
//! reads an Alembic project with Alembic itself ([`driver`], which runs the
//! embedded `alembic_driver.py` with the user's Python), decides what each
//! revision becomes ([`choose`]), checks merge points ([`merge`]), and
//! writes sqlx-named files ([`files`]) whose leading comments say which
//! revision each came from ([`mapping`]) — all of it or nothing
//! ([`alembic`]). [`report`] shows what was written.

pub mod alembic;
pub mod choose;
pub mod driver;
pub mod error;
pub mod files;
pub mod mapping;
pub mod merge;
pub mod report;

pub use alembic::{import, Imported, Options, Row};
pub use error::ImportError;
pub use mapping::{origins, Origin};
