//! Reading sqlparser's tokens where the parser is not used: the words of a
//! statement, a possibly qualified name, an `ALTER TABLE` cut into its
//! operations. The fallback path reads statements with these; the tree path
//! uses them only to place each `ALTER TABLE` operation on its own line.

use std::collections::HashSet;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Word};

pub(super) fn meaningful(tokens: &[TokenWithSpan]) -> Vec<&TokenWithSpan> {
    tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect()
}

fn kw(t: &TokenWithSpan) -> Keyword {
    match &t.token {
        Token::Word(w) => w.keyword,
        _ => Keyword::NoKeyword,
    }
}

pub(super) fn upper(t: &TokenWithSpan) -> String {
    match &t.token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        other => other.to_string(),
    }
}

/// An `ALTER TABLE` cut into its operations: the tokens up to and including
/// the table name, then each operation's tokens (split at top-level commas).
pub(super) fn alter_parts(
    tokens: &[TokenWithSpan],
) -> Option<(Vec<TokenWithSpan>, Vec<Vec<TokenWithSpan>>)> {
    let mut i = 0;
    let mut head = Vec::new();
    let skip_ws = |i: &mut usize, head: &mut Vec<TokenWithSpan>| {
        while *i < tokens.len() && matches!(tokens[*i].token, Token::Whitespace(_)) {
            head.push(tokens[*i].clone());
            *i += 1;
        }
    };
    let expect = |i: &mut usize,
                  head: &mut Vec<TokenWithSpan>,
                  want: &[&str],
                  optional: bool|
     -> Option<bool> {
        skip_ws(i, head);
        if *i < tokens.len()
            && matches!(&tokens[*i].token, Token::Word(w) if w.quote_style.is_none() && want.contains(&w.value.to_ascii_uppercase().as_str()))
        {
            head.push(tokens[*i].clone());
            *i += 1;
            Some(true)
        } else if optional {
            Some(false)
        } else {
            None
        }
    };
    expect(&mut i, &mut head, &["ALTER"], false)?;
    while expect(&mut i, &mut head, &["ONLINE", "IGNORE"], true)? {}
    expect(&mut i, &mut head, &["TABLE"], false)?;
    if expect(&mut i, &mut head, &["IF"], true)? {
        expect(&mut i, &mut head, &["EXISTS"], false)?;
    }
    expect(&mut i, &mut head, &["ONLY"], true)?;
    // The name: word (. word)*
    skip_ws(&mut i, &mut head);
    loop {
        match tokens.get(i).map(|t| &t.token) {
            Some(Token::Word(_)) => {
                head.push(tokens[i].clone());
                i += 1;
            }
            _ => return None,
        }
        if matches!(tokens.get(i).map(|t| &t.token), Some(Token::Period)) {
            head.push(tokens[i].clone());
            i += 1;
        } else {
            break;
        }
    }
    let mut ops = vec![Vec::new()];
    let mut depth = 0i32;
    for t in &tokens[i..] {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                ops.push(Vec::new());
                continue;
            }
            _ => {}
        }
        ops.last_mut().expect("one").push(t.clone());
    }
    ops.retain(|o| o.iter().any(|t| !matches!(t.token, Token::Whitespace(_))));
    Some((head, ops))
}

pub(super) fn first_line(tokens: &[TokenWithSpan], fallback: usize) -> usize {
    tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .map_or(fallback, |t| t.span.start.line as usize)
}

/// Remove `IF NOT EXISTS` / `IF EXISTS` after the first word of an operation
/// (MariaDB: `ADD COLUMN IF NOT EXISTS`, `DROP INDEX IF EXISTS`, …).
pub(super) fn strip_if_exists(tokens: &[TokenWithSpan]) -> Vec<TokenWithSpan> {
    let idx: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, _)| i)
        .collect();
    let mut drop = HashSet::new();
    for (k, &i) in idx.iter().enumerate() {
        if kw(&tokens[i]) == Keyword::IF {
            let n1 = idx.get(k + 1).map(|&j| kw(&tokens[j]));
            let n2 = idx.get(k + 2).map(|&j| kw(&tokens[j]));
            match (n1, n2) {
                (Some(Keyword::NOT), Some(Keyword::EXISTS)) => {
                    drop.extend([i, idx[k + 1], idx[k + 2]]);
                }
                (Some(Keyword::EXISTS), _) => {
                    drop.extend([i, idx[k + 1]]);
                }
                _ => {}
            }
        }
    }
    tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, t)| t.clone())
        .collect()
}

/// The name that starts at `words[i]`: `name`, `db.name`, `` `db`.`name` ``.
/// Its last part (the object's own name) and the index after it.
pub(super) fn qualified<'t>(words: &[&'t TokenWithSpan], i: usize) -> Option<(&'t Word, usize)> {
    let mut last = match &words.get(i)?.token {
        Token::Word(w) => w,
        _ => return None,
    };
    let mut j = i + 1;
    while matches!(words.get(j).map(|t| &t.token), Some(Token::Period)) {
        match words.get(j + 1).map(|t| &t.token) {
            Some(Token::Word(w)) => {
                last = w;
                j += 2;
            }
            _ => break,
        }
    }
    Some((last, j))
}
