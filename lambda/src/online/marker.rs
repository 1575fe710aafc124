//! The arguments of an online change, read from its marker lines:
//!
//! ```sql
//! -- schemagate: online up=ROUND(total * 100) down=total_cents / 100
//! -- schemagate: online fill='unknown'
//! ```
//!
//! Each `-- schemagate: online` line may carry `up=`, `down=` and `fill=`
//! (written with no space before `=`); a value runs to the next argument or
//! the end of the line, so expressions with spaces read as written. A value
//! is a SQL expression over the table's columns, checked here by sqlparser.

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// What the author gave beside the statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The new column's value from the old row (`CHANGE`): default the old
    /// column itself.
    pub up: Option<String>,
    /// The old column's value from the new row: default the new column.
    pub down: Option<String>,
    /// The value for rows (existing and incoming) where the column is NULL.
    pub fill: Option<String>,
}

const KEYS: [&str; 3] = ["up=", "down=", "fill="];

/// Read the arguments of every `online` marker line (the text after
/// `online`). Errors say what to write instead.
pub fn args<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Args, String> {
    let mut out = Args::default();
    for line in lines {
        for (key, value) in split(line)? {
            let slot = match key {
                "up=" => &mut out.up,
                "down=" => &mut out.down,
                _ => &mut out.fill,
            };
            if slot.is_some() {
                return Err(format!("`{key}` is given twice"));
            }
            expression(key, &value)?;
            *slot = Some(value);
        }
    }
    Ok(out)
}

/// `(key, value)` of one line's arguments, in order.
fn split(line: &str) -> Result<Vec<(&'static str, String)>, String> {
    let starts = starts(line);
    let first = starts.first().map_or(line.len(), |s| s.0);
    let lead = line[..first].trim();
    if !lead.is_empty() {
        return Err(format!(
            "`{lead}` is not an argument: write `up=<expression>`, `down=<expression>` or `fill=<expression>`"
        ));
    }
    let mut out = Vec::new();
    for (i, &(at, key)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(line.len(), |s| s.0);
        let value = line[at + key.len()..end].trim().to_string();
        if value.is_empty() {
            return Err(format!("`{key}` has no expression"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Where each argument starts: a key at the line's start or after a space,
/// outside quotes and parentheses.
fn starts(line: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    let (mut quote, mut depth, mut prev_space) = (None::<char>, 0usize, true);
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, _) if depth == 0 && prev_space => {
                let rest = &line[i..];
                if let Some(k) = KEYS.iter().find(|k| {
                    rest.len() >= k.len()
                        && rest.is_char_boundary(k.len())
                        && rest[..k.len()].eq_ignore_ascii_case(k)
                }) {
                    out.push((i, *k));
                }
            }
            _ => {}
        }
        prev_space = quote.is_none() && c.is_whitespace();
    }
    out
}

/// `value` is one SQL expression.
fn expression(key: &str, value: &str) -> Result<(), String> {
    let bad = |why: String| format!("`{key}{value}` is not one SQL expression: {why}");
    let mut p = Parser::new(&MySqlDialect {})
        .try_with_sql(value)
        .map_err(|e| bad(e.to_string()))?;
    p.parse_expr().map_err(|e| bad(e.to_string()))?;
    match p.peek_token().token {
        sqlparser::tokenizer::Token::EOF => Ok(()),
        t => Err(bad(format!("`{t}` follows it"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_run_to_the_next_argument_and_keep_their_spaces() {
        let a = args(["up=ROUND(total * 100) down=total_cents / 100", "fill='a b'"]).unwrap();
        assert_eq!(a.up.as_deref(), Some("ROUND(total * 100)"));
        assert_eq!(a.down.as_deref(), Some("total_cents / 100"));
        assert_eq!(a.fill.as_deref(), Some("'a b'"));
        assert_eq!(args([""]).unwrap(), Args::default());
    }

    #[test]
    fn keys_inside_strings_and_calls_are_values() {
        let a = args(["fill=CONCAT('x up=1', IF(a, 'down=', b))"]).unwrap();
        assert_eq!(
            a.fill.as_deref(),
            Some("CONCAT('x up=1', IF(a, 'down=', b))")
        );
        assert!(a.up.is_none() && a.down.is_none());
    }

    #[test]
    fn mistakes_are_refused_with_what_to_write() {
        assert!(args(["upp=1"])
            .unwrap_err()
            .contains("`upp=1` is not an argument"));
        assert!(args(["up=1", "up=2"]).unwrap_err().contains("twice"));
        assert!(args(["fill="]).unwrap_err().contains("no expression"));
        let e = args(["up=ROUND(total *"]).unwrap_err();
        assert!(
            e.contains("`up=ROUND(total *` is not one SQL expression"),
            "{e}"
        );
        assert!(args(["up=1 2"]).unwrap_err().contains("follows it"));
    }
}
