//! A migrations folder of the test's own.

use std::path::PathBuf;

use crate::workspace_root;

/// A temporary folder: a copy of the repository's `migrations/`
/// ([`Folder::with_example`]) or empty, plus files written by the test.
/// Removed when dropped.
pub struct Folder {
    pub dir: tempfile::TempDir,
}

impl Folder {
    pub fn empty() -> Folder {
        Folder {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The example app's six migrations.
    pub fn with_example() -> Folder {
        let f = Folder::empty();
        for e in std::fs::read_dir(workspace_root().join("migrations")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), f.path().join(e.file_name())).unwrap();
        }
        f
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn write(&self, name: &str, sql: &str) -> &Self {
        std::fs::write(self.dir.path().join(name), sql).unwrap();
        self
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
    }
}
