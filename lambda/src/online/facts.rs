//! What the database says about the table an online change works on, as
//! plain values the planner ([`super::plan`]) decides from; read from
//! `information_schema` by [`super::read`].

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnFact {
    pub name: String,
    /// `varchar(50)`, `bigint(20) unsigned`
    pub column_type: String,
    pub nullable: bool,
    /// The default as SQL (`'free'`, `0`, `current_timestamp()`); `None`:
    /// none.
    pub default: Option<String>,
    /// Generated (virtual or stored), or auto-increment: the server fills it.
    pub generated: bool,
    pub charset: Option<String>,
    pub collation: Option<String>,
}

impl ColumnFact {
    /// Its type with character set and collation, as a column definition
    /// starts.
    pub fn type_sql(&self) -> String {
        let mut s = self.column_type.clone();
        if let Some(c) = &self.charset {
            s.push_str(" CHARACTER SET ");
            s.push_str(c);
        }
        if let Some(c) = &self.collation {
            s.push_str(" COLLATE ");
            s.push_str(c);
        }
        s
    }
}

/// One index (the primary key is [`Facts::primary_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFact {
    pub name: String,
    pub unique: bool,
    /// Its parts in order: a column, with its prefix length when it has one.
    pub columns: Vec<(String, Option<u32>)>,
}

/// A foreign key: `(constraint, from table, its columns, to table, its
/// columns)`.
pub type ForeignKey = (String, String, Vec<String>, String, Vec<String>);

/// The table as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub table: String,
    /// `BASE TABLE`, `VIEW`, or `None` when there is no such name.
    pub kind: Option<String>,
    pub columns: Vec<ColumnFact>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<IndexFact>,
    /// Foreign keys from or to the table: `(constraint, from table, its
    /// columns, to table, its columns)`.
    pub foreign_keys: Vec<ForeignKey>,
    /// Generated columns' expressions.
    pub generation: Vec<(String, String)>,
    /// The table's triggers other than schemagate's: `(name, body)`.
    pub triggers: Vec<(String, String)>,
    /// Views of the database whose definition names the table:
    /// `(name, definition)`.
    pub views: Vec<(String, String)>,
    /// Rename table: what the new name is now (`None`: free).
    pub target_kind: Option<String>,
}

impl Facts {
    pub fn column(&self, name: &str) -> Option<&ColumnFact> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Where the column is used in a way an online change of it cannot
    /// keep working: the primary key, foreign keys, generated columns, the
    /// table's own triggers and views. `None`: nowhere.
    pub fn pinned(&self, column: &str) -> Option<String> {
        let is = |c: &str| c.eq_ignore_ascii_case(column);
        let t = &self.table;
        if self.primary_key.iter().any(|c| is(c)) {
            return Some(format!("`{t}.{column}` is part of the primary key"));
        }
        for (name, from, cols, to, refs) in &self.foreign_keys {
            let here = (from == t && cols.iter().any(|c| is(c)))
                || (to == t && refs.iter().any(|c| is(c)));
            if here {
                return Some(format!(
                    "the foreign key `{name}` ({from} → {to}) uses `{t}.{column}`: drop it in a migration of its own first"
                ));
            }
        }
        if self.column(column).is_some_and(|c| c.generated) {
            return Some(format!(
                "`{t}.{column}` is generated or auto-increment: the server fills it"
            ));
        }
        let mentions = |text: &str| word_in(text, column);
        if let Some((g, _)) = self.generation.iter().find(|(_, e)| mentions(e)) {
            return Some(format!(
                "the generated column `{t}.{g}` is computed from `{column}`"
            ));
        }
        if let Some((tr, _)) = self.triggers.iter().find(|(_, b)| mentions(b)) {
            return Some(format!("the trigger `{tr}` on `{t}` uses `{column}`: change it in a migration of its own first"));
        }
        if let Some((v, _)) = self.views.iter().find(|(_, d)| mentions(d)) {
            return Some(format!(
                "the view `{v}` reads `{t}.{column}`: change it in a migration of its own first"
            ));
        }
        None
    }
}

/// `word` appears in `text` as a whole name (case-insensitive), quoted or
/// not.
pub fn word_in(text: &str, word: &str) -> bool {
    let (t, w) = (text.to_ascii_lowercase(), word.to_ascii_lowercase());
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    t.match_indices(&w).any(|(i, _)| {
        let before = t[..i].chars().next_back();
        let after = t[i + w.len()..].chars().next();
        !before.is_some_and(name_char) && !after.is_some_and(name_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_names_only() {
        assert!(word_in("NEW.`email` = 1", "email"));
        assert!(word_in("upper(Email)", "email"));
        assert!(!word_in("legacy_email", "email"));
        assert!(!word_in("emails", "email"));
    }
}
