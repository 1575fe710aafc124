//! Migration file names in sqlx's naming, read strictly: a name is a
//! migration's, or refused with the rename that fixes it.

use std::fmt;
use std::path::PathBuf;

use sqlx::migrate::MigrationType;

/// A file name read as a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub version: i64,
    /// sqlx's description: the text between `_` and the suffix, `_` as space.
    pub description: String,
    pub kind: MigrationType,
}

/// Why a file name is not a migration's, with the rename that fixes it
/// where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// `0001_x.SQL`, `0001_x.UP.sql`: the suffix is read one way, lowercase.
    SuffixCase { rename: String },
    /// `0001_x.sql.sql`, `0001_x.up.up.sql`.
    DoubledSuffix { rename: String },
    /// `-1_x.sql`, `0_x.sql`.
    VersionNotPositive { version: String },
    /// More than `i64::MAX`.
    VersionTooLarge { version: String },
    /// `abc.sql`, `abc_x.sql`.
    NoVersion,
    /// `0001add.sql`.
    NoSeparator { rename: String },
    /// `1.sql`, `0001_.sql`.
    NoDescription { version: String },
    /// A leading or trailing space.
    Whitespace { rename: String },
    /// `0001_x.sql.bak`, `notes.txt`: not a `.sql` file at all.
    NotSql,
    /// The name is not UTF-8.
    NotUtf8,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::SuffixCase { rename } => {
                write!(f, "the suffix must be lowercase; rename it to `{rename}`")
            }
            NameProblem::DoubledSuffix { rename } => {
                write!(f, "the suffix is doubled; rename it to `{rename}`")
            }
            NameProblem::VersionNotPositive { version } => write!(
                f,
                "version `{version}` is not positive (versions start at 1; 0 means no migration applied); renumber it"
            ),
            NameProblem::VersionTooLarge { version } => write!(
                f,
                "version `{version}` is larger than {}; renumber it",
                i64::MAX
            ),
            NameProblem::NoVersion => write!(
                f,
                "it has no version; name it `<version>_<description>.sql` (or `.up.sql` + `.down.sql`)"
            ),
            NameProblem::NoSeparator { rename } => write!(
                f,
                "the version is not followed by `_`; rename it to `{rename}`"
            ),
            NameProblem::NoDescription { version } => write!(
                f,
                "it has no description; name it `{version}_<description>.sql` (or `.up.sql` + `.down.sql`)"
            ),
            NameProblem::Whitespace { rename } => {
                write!(f, "the name starts or ends with a space; rename it to `{rename}`")
            }
            NameProblem::NotSql => write!(
                f,
                "only `<version>_<description>.sql`, `.up.sql` and `.down.sql` files are migrations; rename or remove it"
            ),
            NameProblem::NotUtf8 => write!(f, "the name is not UTF-8; rename it"),
        }
    }
}

/// One file that is neither a migration nor ignored.
#[derive(Debug)]
pub struct Misnamed {
    pub path: PathBuf,
    pub problem: NameProblem,
}

/// Read a file name as a migration's: `<version>_<description>` and a
/// lowercase `.sql`, `.up.sql` or `.down.sql`, the version a positive `i64`.
pub fn parse_name(name: &str) -> Result<ParsedName, NameProblem> {
    let trimmed = name.trim();
    if trimmed != name {
        return Err(NameProblem::Whitespace {
            rename: trimmed.to_string(),
        });
    }
    let (stem, kind) = suffix(name)?;
    let Some((version, description)) = stem.split_once('_') else {
        let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
        return Err(if digits == 0 {
            NameProblem::NoVersion
        } else if digits == stem.len() {
            NameProblem::NoDescription {
                version: stem.to_string(),
            }
        } else {
            NameProblem::NoSeparator {
                rename: format!("{}_{}{}", &stem[..digits], &stem[digits..], kind.suffix()),
            }
        });
    };
    let v = positive(version)?;
    if description.is_empty() {
        return Err(NameProblem::NoDescription {
            version: version.to_string(),
        });
    }
    Ok(ParsedName {
        version: v,
        description: description.replace('_', " "),
        kind,
    })
}

/// The name without its suffix, and which suffix: exactly one, lowercase.
fn suffix(name: &str) -> Result<(&str, MigrationType), NameProblem> {
    let lower = name.to_ascii_lowercase();
    let kinds = [
        MigrationType::ReversibleUp,
        MigrationType::ReversibleDown,
        MigrationType::Simple,
    ];
    let Some(kind) = kinds.into_iter().find(|k| lower.ends_with(k.suffix())) else {
        return Err(NameProblem::NotSql);
    };
    let suffix = kind.suffix();
    let stem = &name[..name.len() - suffix.len()];
    if &name[stem.len()..] != suffix {
        return Err(NameProblem::SuffixCase {
            rename: format!("{stem}{suffix}"),
        });
    }
    // `x.UP.sql`: an up script whose suffix case sqlx would misread as an
    // irreversible migration named `x.UP`.
    let stem_lower = stem.to_ascii_lowercase();
    for tail in [".up", ".down", ".sql"] {
        if stem_lower.ends_with(tail) {
            let base = &stem[..stem.len() - tail.len()];
            return Err(if kind == MigrationType::Simple && tail != ".sql" {
                NameProblem::SuffixCase {
                    rename: format!("{base}{tail}.sql"),
                }
            } else {
                NameProblem::DoubledSuffix {
                    rename: format!("{base}{suffix}"),
                }
            });
        }
    }
    Ok((stem, kind))
}

/// A version: a positive whole number that fits in an `i64`.
fn positive(version: &str) -> Result<i64, NameProblem> {
    let unsigned = version.strip_prefix('-').unwrap_or(version);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameProblem::NoVersion);
    }
    let not_positive = || NameProblem::VersionNotPositive {
        version: version.to_string(),
    };
    match unsigned.parse::<i64>() {
        Ok(v) if version.starts_with('-') && v != 0 => Err(not_positive()),
        Ok(0) => Err(not_positive()),
        Ok(v) => Ok(v),
        Err(_) if version.starts_with('-') => Err(not_positive()),
        Err(_) => Err(NameProblem::VersionTooLarge {
            version: version.to_string(),
        }),
    }
}
