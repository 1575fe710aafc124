//! What an `ALTER TABLE` does to the table as a whole: its storage engine,
//! character set, partitions, primary key, algorithm and triggers.

use crate::lint::cx::{At, Cx};
use crate::lint::name::Name;
use crate::lint::rules::Id;

impl Cx<'_> {
    /// `ALTER TABLE t ENGINE = engine` (written without quotes).
    pub(in crate::lint) fn change_engine(&mut self, t: &Name, engine: &str, at: At) {
        if !self.old_table(t) || engine.eq_ignore_ascii_case("INNODB") {
            return;
        }
        // Engines that keep every row and take every statement the running
        // release sends; any other (BLACKHOLE discards rows, ARCHIVE
        // refuses UPDATE, MEMORY forgets on restart, one schemagate does
        // not know) may lose its data.
        if !["ARIA", "MYISAM"]
            .iter()
            .any(|e| engine.eq_ignore_ascii_case(e))
        {
            self.hit(
                Id::ChangeEngine,
                at,
                format!("ALTER TABLE {t} ENGINE={engine}"),
            );
        }
        self.hit(
            Id::CopyEngine,
            at,
            format!("ALTER TABLE {t} ENGINE={engine}"),
        );
    }

    /// `ALTER TABLE t CONVERT TO CHARACTER SET …` (`what` as written).
    pub(in crate::lint) fn convert_charset(&mut self, t: &Name, what: &str, at: At) {
        if self.old_table(t) {
            self.hit(
                Id::CopyConvertCharset,
                at,
                format!("ALTER TABLE {t} {what}"),
            );
        }
    }

    /// Partitioning, un-partitioning or reorganizing partitions.
    pub(in crate::lint) fn repartition(&mut self, t: &Name, what: &str, at: At) {
        if self.old_table(t) {
            self.hit(Id::CopyPartitioning, at, format!("ALTER TABLE {t} {what}"));
        }
    }

    /// `DROP`/`TRUNCATE`/`DETACH PARTITION` (`what` as written).
    pub(in crate::lint) fn drop_partition(&mut self, t: &Name, what: &str, at: At) {
        if self.old_table(t) {
            self.hit(Id::DropPartition, at, format!("ALTER TABLE {t} {what}"));
        }
    }

    /// `DROP PRIMARY KEY`; `replaced`: the same `ALTER TABLE` adds another.
    pub(in crate::lint) fn drop_primary_key(&mut self, t: &Name, replaced: bool, at: At) {
        if self.old_table(t) && !replaced {
            self.hit(
                Id::CopyDropPrimaryKey,
                at,
                format!("ALTER TABLE {t} DROP PRIMARY KEY"),
            );
        }
    }

    /// `ALGORITHM=COPY`.
    pub(in crate::lint) fn copy_algorithm(&mut self, t: &Name, at: At) {
        if self.old_table(t) {
            self.hit(
                Id::CopyAlgorithm,
                at,
                format!("ALTER TABLE {t} … ALGORITHM=COPY"),
            );
        }
    }

    /// `DISABLE TRIGGER`/`DISABLE RULE` (`what`: its name as written).
    pub(in crate::lint) fn disable_trigger(&mut self, t: &Name, what: &str, at: At) {
        if self.old_table(t) {
            self.hit(
                Id::DropTrigger,
                at,
                format!("ALTER TABLE {t} DISABLE {what}"),
            );
        }
    }
}
