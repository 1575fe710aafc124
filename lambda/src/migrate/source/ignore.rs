//! Files of a migrations folder that are not migrations and say so:
//! `README*`, `*.md` and the folder's `.schemagateignore` patterns.

use std::path::Path;

use super::error::SourceError;

/// The folder's own ignore list: one file name or pattern per line.
pub const IGNORE_FILE: &str = ".schemagateignore";

/// Ignored without being listed: `README*` and `*.md`, in any case.
/// (Names starting with `.` are ignored before this is asked.)
pub fn builtin_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("readme") || lower.ends_with(".md")
}

/// The patterns of a folder's `.schemagateignore`.
#[derive(Debug, Default)]
pub struct IgnoreList {
    patterns: Vec<String>,
}

impl IgnoreList {
    pub fn read(dir: &Path) -> Result<Self, SourceError> {
        let path = dir.join(IGNORE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(SourceError::Unreadable { path, source }),
        };
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> Self {
        IgnoreList {
            patterns: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| wildcard_match(p, name))
    }
}

/// `*` matches any run of characters, `?` one character, anything else
/// itself (case-sensitive). Written here rather than taken from a glob crate
/// on purpose: the grammar is two wildcards so that the CDK construct's
/// TypeScript copy (`cdk/lib/migrations-source.ts`) matches exactly the same
/// names; a glob crate's classes, braces and `**` would have to be copied too.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen, and where in the name its match ends so far.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
