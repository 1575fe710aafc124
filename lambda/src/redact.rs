//! Hiding credentials in what a person is shown: error messages, usage
//! errors, JSON. The one place that knows what a credential looks like.
//!
//! - [`value`]: one value (an argument, a URL, with or without a scheme, any
//!   number of `:` and `/` after it) with its password replaced by `***`:
//!   `u:SuperSecret@h/db` → `u:***@h/db`. The userinfo ends at the *last*
//!   `@`, so a password holding `@`, `/`, `:` or `#` (or percent-encoded) is
//!   hidden whole; query parameters named like a secret (`password=`,
//!   `token=`, …) are hidden too.
//! - [`text`]: free text, every word with a `user:password@` shape redacted
//!   as [`value`] does (a word ends at whitespace and quotes).
//! - [`Secrets`]: values known to be secret (the string literals of
//!   `--init-sql` / `InitSql`: `SET PASSWORD = PASSWORD('…')`), hidden
//!   wherever they appear, then [`text`].
//! - [`usage_error`]: clap's usage errors, every value redacted.
//!
//! The scanners are written here: what they look for is a shape, not a
//! grammar (a malformed URL is exactly what no URL parser accepts).

/// Query parameter names (lowercase substrings) whose values are hidden.
const SECRET_KEYS: [&str; 6] = ["pass", "pwd", "secret", "token", "signature", "credential"];

/// One value with its credentials replaced by `***`; the user name, host,
/// port and database stay, so the message still says what to fix.
pub fn value(v: &str) -> String {
    let (head, rest) = split_scheme(v);
    match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
            match userinfo.find([':', '@']) {
                Some(end) => format!("{head}{}:***@{}", &userinfo[..end], query(host)),
                None => format!("{head}{userinfo}@{}", query(host)),
            }
        }
        None => format!("{head}{}", query(rest)),
    }
}

/// Free text with every credential-shaped word redacted as by [`value`].
pub fn text(t: &str) -> String {
    let is_delim = |c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`');
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while !rest.is_empty() {
        let word_end = rest.find(is_delim).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(word_end);
        if word.contains(['@', '?']) {
            out.push_str(&value(word));
        } else {
            out.push_str(word);
        }
        let delims = tail.find(|c: char| !is_delim(c)).unwrap_or(tail.len());
        out.push_str(&tail[..delims]);
        rest = &tail[delims..];
    }
    out
}

/// The value looks like it carries a credential or is a URL.
pub fn looks_like_url(v: &str) -> bool {
    v.contains("://") || value(v) != v
}

/// Values known to be secret, hidden wherever they appear in a message.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `(needle, replacement)`, longest needle first.
    known: Vec<(String, String)>,
}

impl Secrets {
    /// The string literals of SQL statements (`'…'`, `"…"`): `--init-sql`
    /// may set a password or a key, and a server's error quotes the
    /// statement. A quoted literal is hidden with its quotes (`'***'`); its
    /// bare text too when it is 4 characters or more (shorter ones are
    /// words like `ON` that would blank the rest of the message).
    pub fn with_sql(mut self, statements: &[String]) -> Self {
        for s in statements {
            for (quote, lit) in string_literals(s) {
                if lit.is_empty() {
                    continue;
                }
                self.known
                    .push((format!("{quote}{lit}{quote}"), format!("{quote}***{quote}")));
                if lit.chars().count() >= 4 {
                    self.known.push((lit, "***".into()));
                }
            }
        }
        self.known
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        self.known.dedup();
        self
    }

    /// `text` with every known secret hidden, then [`text`]'s pass.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_string();
        for (needle, replacement) in &self.known {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), replacement);
            }
        }
        text(&out)
    }
}

/// A clap usage error rendered with every value redacted: the unknown
/// argument or subcommand, the invalid value, clap's suggestions. clap's own
/// tips stay; a URL given where a subcommand or argument was expected gets
/// one more: where a database URL goes. The rendered text gets [`text`]'s
/// pass too, for messages clap does not keep as context.
pub fn usage_error(mut e: clap::Error, url_option: &str) -> String {
    use clap::error::{ContextKind, ContextValue};
    let kinds: Vec<ContextKind> = e.context().map(|(k, _)| k).collect();
    let mut misplaced_url = false;
    for kind in kinds {
        let Some(old) = e.get(kind).cloned() else {
            continue;
        };
        if matches!(
            kind,
            ContextKind::InvalidSubcommand | ContextKind::InvalidArg
        ) {
            if let ContextValue::String(s) = &old {
                misplaced_url |= looks_like_url(s);
            }
        }
        let new = match old {
            ContextValue::String(s) => ContextValue::String(value(&s)),
            ContextValue::Strings(v) => ContextValue::Strings(v.iter().map(|s| value(s)).collect()),
            ContextValue::StyledStr(s) => ContextValue::StyledStr(styled(s)),
            ContextValue::StyledStrs(v) => {
                ContextValue::StyledStrs(v.into_iter().map(styled).collect())
            }
            other => other,
        };
        e.insert(kind, new);
    }
    if misplaced_url {
        let tip = format!(
            "a database URL is given with '{url_option} <URL>' (or in DATABASE_URL), before or after the subcommand"
        );
        let mut tips = match e.get(ContextKind::Suggested) {
            Some(ContextValue::StyledStrs(v)) => v.clone(),
            _ => Vec::new(),
        };
        tips.push(tip.into());
        e.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    }
    text(&e.render().to_string())
}

/// Styled text redacted; its styles kept when there was nothing to hide.
fn styled(s: clap::builder::StyledStr) -> clap::builder::StyledStr {
    let plain = s.to_string();
    let redacted = text(&plain);
    if redacted == plain {
        s
    } else {
        redacted.into()
    }
}

/// `mysql://`, `mysql:/`, `mysql//`, `postgres:///` …: a scheme and the
/// separators after it, or nothing. A bare `u:` (no slash) is a user name,
/// not a scheme.
fn split_scheme(v: &str) -> (&str, &str) {
    let lead = v.len() - v.trim_start_matches(['(', '[', '{', '<']).len();
    let s = &v[lead..];
    let name = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    if name == 0 || !s.as_bytes()[0].is_ascii_alphabetic() {
        return v.split_at(lead);
    }
    let after = &s[name..];
    let colon = usize::from(after.starts_with(':'));
    let slashes = after[colon..].len() - after[colon..].trim_start_matches('/').len();
    if slashes == 0 {
        return v.split_at(lead);
    }
    v.split_at(lead + name + colon + slashes)
}

/// `host/db?password=x&a=b` → `host/db?password=***&a=b`.
fn query(s: &str) -> String {
    let Some((base, q)) = s.split_once('?') else {
        return s.to_string();
    };
    let params: Vec<String> = q
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _))
                if SECRET_KEYS
                    .iter()
                    .any(|w| k.to_ascii_lowercase().contains(w)) =>
            {
                format!("{k}=***")
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// The `'…'` and `"…"` literals of SQL text, with their quote: a doubled
/// quote or a backslash escape stays inside the literal. Comments and
/// identifiers are not told apart: a false literal only hides more.
fn string_literals(sql: &str) -> Vec<(char, String)> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let mut lit = String::new();
        while let Some(d) = chars.next() {
            if d == '\\' {
                lit.push(d);
                if let Some(e) = chars.next() {
                    lit.push(e);
                }
            } else if d == c {
                if chars.peek() == Some(&c) {
                    lit.push(d);
                    lit.push(chars.next().unwrap_or(c));
                } else {
                    break;
                }
            } else {
                lit.push(d);
            }
        }
        out.push((c, lit));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "SuperSecret123";

    #[test]
    fn every_malformed_url_of_the_issue_hides_the_password() {
        for (given, shown) in [
            (
                "u:SuperSecret123@127.0.0.1:3307/rt1",
                "u:***@127.0.0.1:3307/rt1",
            ),
            (
                "mysql:/u:SuperSecret123@127.0.0.1:3307/rt1",
                "mysql:/u:***@127.0.0.1:3307/rt1",
            ),
            (
                "mysql//u:SuperSecret123@127.0.0.1:3307/rt1",
                "mysql//u:***@127.0.0.1:3307/rt1",
            ),
            ("mysql:///u:SuperSecret123@h/db", "mysql:///u:***@h/db"),
            ("mysql://u:SuperSecret123@h/db", "mysql://u:***@h/db"),
            ("mysql://u:Super@Secret123@h/db", "mysql://u:***@h/db"),
            ("mysql://u:Super/Secret123@h/db", "mysql://u:***@h/db"),
            ("mysql://u:Super#Secret123@h/db", "mysql://u:***@h/db"),
            ("mysql://u:%53uperSecret123@h/db", "mysql://u:***@h/db"),
            ("mysql://u:Super Secret123@h/db", "mysql://u:***@h/db"),
            ("mysql://:SuperSecret123@h", "mysql://:***@h"),
            ("mysql:u:SuperSecret123@h", "mysql:***@h"),
            ("u@SuperSecret123@h", "u:***@h"),
            (
                "postgres://h/db?sslmode=require&password=SuperSecret123",
                "postgres://h/db?sslmode=require&password=***",
            ),
            ("(mysql://u:SuperSecret123@h)", "(mysql://u:***@h)"),
        ] {
            assert_eq!(value(given), shown, "{given}");
        }
    }

    #[test]
    fn values_without_credentials_are_unchanged() {
        for v in [
            "mysql://root@127.0.0.1:3306/app",
            "postgres://h:5432/db?sslmode=require",
            "migrations",
            "/tmp/a b/c",
            "user@example.com",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
            "--lock-wait <LOCK_WAIT>",
        ] {
            assert_eq!(value(v), v);
            assert_eq!(text(v), v);
        }
    }

    #[test]
    fn text_redacts_every_word_and_keeps_the_rest() {
        let t = format!(
            "invalid value 'mysql://u:{PW}@h/db' for '--to <V>': `u:{PW}@h` and \"x:{PW}@y\" then GRANT TO 'app'@'%'"
        );
        let r = text(&t);
        assert!(!r.contains(PW), "{r}");
        assert_eq!(
            r,
            "invalid value 'mysql://u:***@h/db' for '--to <V>': `u:***@h` and \"x:***@y\" then GRANT TO 'app'@'%'"
        );
        assert_eq!(text(&r), r, "idempotent");
    }

    #[test]
    fn init_sql_literals_are_hidden_wherever_the_server_quotes_them() {
        let s = Secrets::default().with_sql(&[
            format!("SET PASSWORD = PASSWORD('{PW}')"),
            "SET sql_mode = 'ON'".into(),
            r#"SET @k = "it''s \"x\"""#.into(),
        ]);
        let m = format!(
            "`SET PASSWORD = PASSWORD('{PW}')`: error returned from database: 1064 (42000): near '{PW}')' at line 1; ON"
        );
        let r = s.redact(&m);
        assert!(!r.contains(PW), "{r}");
        assert!(r.contains("PASSWORD('***')"), "{r}");
        assert!(
            r.ends_with("; ON"),
            "short words are kept outside quotes: {r}"
        );
        assert!(s.redact("it''s \\\"x\\\"").contains("***"));
    }

    #[test]
    fn the_scheme_is_read_with_any_number_of_colons_and_slashes() {
        assert_eq!(split_scheme("mysql://x"), ("mysql://", "x"));
        assert_eq!(split_scheme("mysql:/x"), ("mysql:/", "x"));
        assert_eq!(split_scheme("mysql//x"), ("mysql//", "x"));
        assert_eq!(split_scheme("mysql:////x"), ("mysql:////", "x"));
        assert_eq!(split_scheme("u:pw@h"), ("", "u:pw@h"));
        assert_eq!(split_scheme("1a://x"), ("", "1a://x"));
    }
}
