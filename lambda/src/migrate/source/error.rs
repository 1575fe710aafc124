//! Why a migrations folder cannot be read, naming the file and the fix.

use std::path::PathBuf;

use super::name::Misnamed;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("migrations folder `{}` does not exist or is not a folder", dir.display())]
    NotAFolder { dir: PathBuf },
    #[error("cannot read migrations from `{}`: {message}", dir.display())]
    Read { dir: PathBuf, message: String },
    #[error("cannot read `{}`: {source}; migrations are UTF-8 text files the process may read", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}; a file that is not a migration can be listed in `{}`", misnamed_list(files), ignore_file.display())]
    Misnamed {
        ignore_file: PathBuf,
        files: Vec<Misnamed>,
    },
    #[error("version {version} is used by `{}` and `{}`; give one of them a new version", first.display(), second.display())]
    Duplicate {
        version: i64,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("`{}` has no matching `.down.sql`; add one (an empty one is a deliberate no-op) or rename it to `<version>_<name>.sql` to mark it irreversible", up.display())]
    MissingDown { up: PathBuf },
    #[error("`{}` has no matching `.up.sql`; rename or remove it", down.display())]
    OrphanDown { down: PathBuf },
    #[error("`{}` is an irreversible migration but `{}` exists too; rename the first to `.up.sql` or remove the second", simple.display(), down.display())]
    Ambiguous { simple: PathBuf, down: PathBuf },
}

fn misnamed_list(files: &[Misnamed]) -> String {
    let one = |m: &Misnamed| {
        format!(
            "`{}` is not a migration file name: {}",
            m.path.to_string_lossy(),
            m.problem
        )
    };
    files.iter().map(one).collect::<Vec<_>>().join("; ")
}
