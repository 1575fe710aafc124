//! Online changes end to end (issue #14): the real `schemagate-lambda`
//! under `cargo lambda watch` expands and contracts while two releases of
//! an app serve, each with its own SQL ([`schemagate_e2e::online`]). Each
//! test prints the figures and asserts: no error, every row of each
//! release read right by the other, the longest query during expand
//! within [`STALL`], and what is left in the database.

use std::time::Duration;

use schemagate_e2e::proof::{self, Case, Proof, PACE};
use schemagate_e2e::Rehearsal;
use testkit::started;

/// The longest any single query of the old release may take while the
/// Lambda expands. The target is under a second for 100k rows on
/// this machine (2 cores, shared with builds).
const STALL: Duration = Duration::from_secs(1);

async fn proven(label: &str, case: &Case) -> (Rehearsal, Proof) {
    let mut r = started!(Rehearsal::start(label));
    let p = proof::prove(&mut r, case, PACE).await.unwrap();
    println!("{}", p.report(case));
    p.check().unwrap();
    assert!(
        p.expand_stall() < STALL,
        "a query waited {:.3}s during expand",
        p.expand_stall().as_secs_f64()
    );
    r.check_logs().unwrap();
    (r, p)
}

#[tokio::test]
async fn rename_column_on_100k_rows_with_both_releases_serving() {
    let (r, _) = proven("online_rename", &proof::RENAME).await;
    assert_eq!(r.db.columns("items").await, ["id", "title", "total", "nick", "legacy"]);
}
