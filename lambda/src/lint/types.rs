//! How a column's type changes: the same, wider (every old value still
//! fits; MariaDB 10.11 may even do it in place) or different. Measured on
//! MariaDB 10.11 and PostgreSQL 16; the tests hold the measurements.

use sqlparser::ast::{
    BinaryLength, CharacterLength, DataType, EnumMember, ExactNumberInfo, Expr, TimezoneInfo,
};

/// How a column's type changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Same type.
    Same,
    /// Holds every value the old type held.
    Wider {
        /// MariaDB 10.11 can do it without copying the table (VARCHAR
        /// growth within its length-byte class, ENUM/SET values appended).
        in_place: bool,
        /// A VARCHAR whose growth may cross 255 bytes, depending on the
        /// column's character set.
        may_cross_255: bool,
    },
    /// Narrower, or a different kind of type.
    Different,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Int { rank: u8, unsigned: bool },
    Text { varying: bool, len: Option<u64> },
    Lob { text: bool, rank: u8 },
    Binary { varying: bool, len: Option<u64> },
    Decimal { precision: Option<u64>, scale: i64 },
    Float { rank: u8 },
    DateTime { base: &'static str, fsp: u64 },
    Choice { set: bool, values: Vec<String> },
    Other(String),
}

fn char_len(l: &Option<CharacterLength>) -> Option<u64> {
    match l {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        _ => None,
    }
}

fn decimal(info: &ExactNumberInfo) -> Shape {
    let (precision, scale) = match info {
        ExactNumberInfo::None => (None, 0),
        ExactNumberInfo::Precision(p) => (Some(*p), 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (Some(*p), *s),
    };
    Shape::Decimal { precision, scale }
}

fn shape(t: &DataType) -> Shape {
    int_shape(t)
        .or_else(|| string_shape(t))
        .or_else(|| other_shape(t))
        .unwrap_or_else(|| Shape::Other(t.to_string().to_ascii_uppercase()))
}

fn int_shape(t: &DataType) -> Option<Shape> {
    use DataType as D;
    let (rank, unsigned) = match t {
        D::TinyInt(_) => (1, false),
        D::TinyIntUnsigned(_) => (1, true),
        D::SmallInt(_) | D::Int2(_) => (2, false),
        D::SmallIntUnsigned(_) | D::Int2Unsigned(_) => (2, true),
        D::MediumInt(_) => (3, false),
        D::MediumIntUnsigned(_) => (3, true),
        D::Int(_) | D::Integer(_) | D::Int4(_) => (4, false),
        D::IntUnsigned(_) | D::IntegerUnsigned(_) | D::Int4Unsigned(_) => (4, true),
        D::BigInt(_) | D::Int8(_) => (5, false),
        D::BigIntUnsigned(_) | D::Int8Unsigned(_) => (5, true),
        _ => return None,
    };
    Some(Shape::Int { rank, unsigned })
}

/// Character and byte strings, short and large.
fn string_shape(t: &DataType) -> Option<Shape> {
    use DataType as D;
    let lob = |text: bool, rank: u8| Some(Shape::Lob { text, rank });
    match t {
        D::Varchar(l) | D::CharacterVarying(l) | D::CharVarying(l) | D::Nvarchar(l) => {
            Some(Shape::Text {
                varying: true,
                len: char_len(l),
            })
        }
        D::Char(l) | D::Character(l) => Some(Shape::Text {
            varying: false,
            len: Some(char_len(l).unwrap_or(1)),
        }),
        D::TinyText => lob(true, 1),
        D::Text => lob(true, 2),
        D::MediumText => lob(true, 3),
        D::LongText => lob(true, 4),
        D::TinyBlob => lob(false, 1),
        D::Blob(_) => lob(false, 2),
        D::MediumBlob => lob(false, 3),
        D::LongBlob | D::Bytea => lob(false, 4),
        D::Binary(l) => Some(Shape::Binary {
            varying: false,
            len: Some(l.unwrap_or(1)),
        }),
        D::Varbinary(l) => Some(Shape::Binary {
            varying: true,
            len: match l {
                Some(BinaryLength::IntegerLength { length }) => Some(*length),
                _ => None,
            },
        }),
        _ => None,
    }
}

/// Decimals, floats, times, ENUM and SET.
fn other_shape(t: &DataType) -> Option<Shape> {
    use DataType as D;
    let time = |base: &'static str, p: &Option<u64>| {
        Some(Shape::DateTime {
            base,
            fsp: p.unwrap_or(0),
        })
    };
    match t {
        D::Decimal(i) | D::Numeric(i) | D::Dec(i) => Some(decimal(i)),
        D::Float(_) | D::Real | D::Float4 => Some(Shape::Float { rank: 1 }),
        D::Double(_) | D::DoublePrecision | D::Float8 => Some(Shape::Float { rank: 2 }),
        D::Datetime(p) => time("datetime", p),
        D::Timestamp(p, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => time("timestamptz", p),
        D::Timestamp(p, _) => time("timestamp", p),
        D::Time(p, _) => time("time", p),
        D::Enum(members, _) => Some(Shape::Choice {
            set: false,
            values: members
                .iter()
                .map(|m| match m {
                    EnumMember::Name(n) | EnumMember::NamedValue(n, _) => n.clone(),
                })
                .collect(),
        }),
        D::Set(values) => Some(Shape::Choice {
            set: true,
            values: values.clone(),
        }),
        _ => None,
    }
}

fn wider(in_place: bool) -> TypeChange {
    TypeChange::Wider {
        in_place,
        may_cross_255: false,
    }
}

/// Compare a column's type before and after a change.
pub fn compare(old: &DataType, new: &DataType) -> TypeChange {
    let (a, b) = (shape(old), shape(new));
    if a == b {
        return TypeChange::Same;
    }
    compare_numbers(&a, &b)
        .or_else(|| compare_strings(&a, &b))
        .or_else(|| compare_others(&a, &b))
        .unwrap_or(TypeChange::Different)
}

fn compare_numbers(a: &Shape, b: &Shape) -> Option<TypeChange> {
    match (a, b) {
        (
            &Shape::Int {
                rank: r1,
                unsigned: u1,
            },
            &Shape::Int {
                rank: r2,
                unsigned: u2,
            },
        ) => Some(if (u1 == u2 && r2 >= r1) || (u1 && !u2 && r2 > r1) {
            wider(false)
        } else {
            TypeChange::Different
        }),
        (
            &Shape::Decimal {
                precision: p1,
                scale: s1,
            },
            &Shape::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => {
            let (p1, p2) = (p1.unwrap_or(10) as i64, p2.unwrap_or(10) as i64);
            Some(if s2 >= s1 && p2 - s2 >= p1 - s1 {
                wider(false)
            } else {
                TypeChange::Different
            })
        }
        (&Shape::Float { rank: r1 }, &Shape::Float { rank: r2 }) if r2 >= r1 => Some(wider(false)),
        _ => None,
    }
}

fn compare_strings(a: &Shape, b: &Shape) -> Option<TypeChange> {
    match (a, b) {
        (
            &Shape::Text {
                varying: true,
                len: l1,
            },
            &Shape::Text {
                varying: true,
                len: l2,
            },
        ) => Some(varchar(l1, l2)),
        (
            &Shape::Text {
                varying: false,
                len: Some(a),
            },
            &Shape::Text {
                varying: false,
                len: Some(b),
            },
        ) if b >= a => Some(wider(false)),
        (Shape::Text { .. }, &Shape::Lob { text: true, rank }) if rank >= 2 => Some(wider(false)),
        (&Shape::Lob { text: t1, rank: r1 }, &Shape::Lob { text: t2, rank: r2 })
            if t1 == t2 && r2 >= r1 =>
        {
            Some(wider(false))
        }
        (
            &Shape::Binary { len: Some(a), .. },
            &Shape::Binary {
                varying: true,
                len: Some(b),
            },
        ) if b >= a => Some(wider(false)),
        (Shape::Binary { .. }, &Shape::Lob { text: false, rank }) if rank >= 2 => {
            Some(wider(false))
        }
        _ => None,
    }
}

/// VARCHAR(l1) → VARCHAR(l2).
fn varchar(l1: Option<u64>, l2: Option<u64>) -> TypeChange {
    match (l1, l2) {
        (Some(a), Some(b)) if b >= a => {
            // One length byte up to 255 bytes, two above: crossing copies.
            let may_cross_255 = [1u64, 2, 3, 4].iter().any(|k| a * k <= 255 && b * k > 255);
            TypeChange::Wider {
                in_place: true,
                may_cross_255,
            }
        }
        // PostgreSQL: VARCHAR(n) → VARCHAR (no limit) is wider.
        (Some(_), None) => wider(true),
        _ => TypeChange::Different,
    }
}

fn compare_others(a: &Shape, b: &Shape) -> Option<TypeChange> {
    match (a, b) {
        (Shape::DateTime { base: b1, fsp: f1 }, Shape::DateTime { base: b2, fsp: f2 })
            if b1 == b2 && f2 >= f1 =>
        {
            Some(wider(false))
        }
        (
            Shape::Choice {
                set: s1,
                values: v1,
            },
            Shape::Choice {
                set: s2,
                values: v2,
            },
        ) if s1 == s2 && v2.len() >= v1.len() && v2[..v1.len()] == v1[..] => Some(wider(true)),
        _ => None,
    }
}

/// A column default that PostgreSQL evaluates per row (rewrites the table
/// when a column is added with it).
pub fn volatile_default(e: &Expr) -> bool {
    const VOLATILE: &[&str] = &[
        "random",
        "gen_random_uuid",
        "uuid_generate_v4",
        "uuid_generate_v1",
        "clock_timestamp",
        "timeofday",
        "nextval",
    ];
    let s = e.to_string().to_ascii_lowercase();
    VOLATILE.iter().any(|f| s.contains(&format!("{f}(")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn ty(s: &str) -> DataType {
        Parser::new(&MySqlDialect {})
            .try_with_sql(s)
            .unwrap()
            .parse_data_type()
            .unwrap()
    }

    fn cmp(a: &str, b: &str) -> TypeChange {
        compare(&ty(a), &ty(b))
    }

    #[test]
    fn type_changes_measured_on_mariadb_10_11() {
        use TypeChange::*;
        assert_eq!(cmp("VARCHAR(50)", "varchar(50)"), Same);
        assert_eq!(
            cmp("VARCHAR(50)", "VARCHAR(63)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("VARCHAR(50)", "VARCHAR(64)"),
            Wider {
                in_place: true,
                may_cross_255: true
            }
        );
        assert_eq!(
            cmp("VARCHAR(100)", "VARCHAR(120)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("VARCHAR(300)", "VARCHAR(1000)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("VARCHAR(100)", "VARCHAR(40)"), Different);
        assert_eq!(
            cmp("INT", "BIGINT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("INT UNSIGNED", "BIGINT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("INT", "INT UNSIGNED"), Different);
        assert_eq!(cmp("BIGINT", "INT"), Different);
        assert_eq!(
            cmp("BLOB", "MEDIUMBLOB"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("MEDIUMBLOB", "BLOB"), Different);
        assert_eq!(
            cmp("VARCHAR(255)", "TEXT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("DECIMAL(10,2)", "DECIMAL(12,2)"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("DECIMAL(10,2)", "DECIMAL(10,3)"), Different);
        assert_eq!(
            cmp("DATETIME", "DATETIME(6)"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("ENUM('a','b')", "ENUM('a','b','c')"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("ENUM('a','b')", "ENUM('c','a','b')"), Different);
        assert_eq!(cmp("CHAR(10)", "VARCHAR(20)"), Different);
        assert_eq!(cmp("VARCHAR(20)", "INT"), Different);
    }
}
