//! A group's capacity and the tag that keeps it while the group is drained.

use std::fmt;

/// The ASG tag holding the capacity schemagate took away, written before
/// the group is changed and removed when the capacity is given back.
/// Value: `min=2 max=4 desired=2` (characters every AWS tag accepts).
pub const SAVED_TAG: &str = "schemagate:saved-capacity";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub min: i32,
    pub max: i32,
    pub desired: i32,
}

impl Capacity {
    pub const ZERO: Capacity = Capacity {
        min: 0,
        max: 0,
        desired: 0,
    };

    pub fn tag_value(&self) -> String {
        format!("min={} max={} desired={}", self.min, self.max, self.desired)
    }

    /// Read a [`SAVED_TAG`] value; `None` when it is not one.
    pub fn parse(value: &str) -> Option<Capacity> {
        let mut min = None;
        let mut max = None;
        let mut desired = None;
        for part in value.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            let v: i32 = v.parse().ok().filter(|v: &i32| *v >= 0)?;
            match k {
                "min" => min = Some(v),
                "max" => max = Some(v),
                "desired" => desired = Some(v),
                _ => return None,
            }
        }
        Some(Capacity {
            min: min?,
            max: max?,
            desired: desired?,
        })
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min {}, max {}, desired {}",
            self.min, self.max, self.desired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_value_reads_back() {
        let c = Capacity {
            min: 2,
            max: 6,
            desired: 3,
        };
        assert_eq!(c.tag_value(), "min=2 max=6 desired=3");
        assert_eq!(Capacity::parse(&c.tag_value()), Some(c));
        assert_eq!(
            Capacity::parse("desired=1 min=0 max=2"),
            Some(Capacity {
                min: 0,
                max: 2,
                desired: 1
            })
        );
    }

    #[test]
    fn anything_else_is_not_a_capacity() {
        for bad in [
            "",
            "2,4,2",
            "min=2 max=4",
            "min=2 max=4 desired=x",
            "min=-1 max=4 desired=2",
            "min=1 max=2 desired=1 size=3",
        ] {
            assert_eq!(Capacity::parse(bad), None, "{bad}");
        }
    }
}
