#!/usr/bin/env bash
# make bench: schemagate against the mariadb client on a generated history.
#
# - 400 small migrations applied to an empty MariaDB database: schemagate's
#   time and its ratio to piping the same SQL through one `mariadb` session
#   (and to sqlx-cli when it is installed). Target: ≤ 1.15×.
# - a no-op run on a database already at head: the engine's own time
#   (`elapsed_ms` of `--json`). Target: < 20 ms.
# - 100/200/400 migrations: time per migration stays flat (linear).
# Best of RUNS runs each (alternating). Not part of `make test`.
# Run it on a quiet machine: other builds on the two cores skew the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-400}
RUNS=${RUNS:-3}
BIN=${BIN:-target/release/schemagate}
HOST=127.0.0.1
MYSQL=(mariadb -uroot -h$HOST --batch)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS sg_bench" >/dev/null 2>&1 || true' EXIT

gen() { # dir, count
  mkdir -p "$1"
  for i in $(seq 1 "$2"); do
    v=$(printf '%04d' "$i")
    printf 'CREATE TABLE t%s (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\nINSERT INTO t%s (id, name) VALUES (1, '\''row %s'\'');\n' "$i" "$i" "$i" > "$1/${v}_create_t$i.up.sql"
    printf 'DROP TABLE t%s;\n' "$i" > "$1/${v}_create_t$i.down.sql"
  done
}

fresh() { "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS sg_bench; CREATE DATABASE sg_bench"; }

now() { date +%s.%N; }

best() { # command...: best wall time of RUNS runs on a fresh database
  local best=
  for _ in $(seq 1 "$RUNS"); do
    fresh
    local t0 t1
    t0=$(now); "$@" >/dev/null; t1=$(now)
    best=$(python3 -c "t=$t1-$t0; b='$best'; print(min(t, float(b)) if b else t)")
  done
  echo "$best"
}

client() { cat "$1"/*.up.sql | "${MYSQL[@]}" sg_bench; }
engine() { "$BIN" --database-url "mysql://root@$HOST:3306/sg_bench" --migrations "$1" --json up; }

gen "$WORK/m$N" "$N"
echo "schemagate bench: $N migrations (CREATE TABLE + INSERT each), best of $RUNS, MariaDB $("${MYSQL[@]}" -N -e 'SELECT VERSION()')"

# Alternate the two so a change in machine load hits both alike.
t_client=; t_engine=
for _ in $(seq 1 "$RUNS"); do
  t=$(RUNS=1 best client "$WORK/m$N"); t_client=$(python3 -c "b='$t_client'; print(min($t, float(b)) if b else $t)")
  t=$(RUNS=1 best engine "$WORK/m$N"); t_engine=$(python3 -c "b='$t_engine'; print(min($t, float(b)) if b else $t)")
done
printf '  %-34s %7.3f s\n' "mariadb client, one session" "$t_client"
printf '  %-34s %7.3f s   %.2f× the client (target ≤ 1.15×)\n' "schemagate up" "$t_engine" "$(python3 -c "print($t_engine/$t_client)")"
if command -v sqlx >/dev/null 2>&1; then
  t_sqlx=$(best sqlx migrate run --database-url "mysql://root@$HOST:3306/sg_bench" --source "$WORK/m$N")
  printf '  %-34s %7.3f s   %.2f× the client\n' "sqlx migrate run" "$t_sqlx" "$(python3 -c "print($t_sqlx/$t_client)")"
else
  echo "  (sqlx-cli not installed: cargo install sqlx-cli --no-default-features --features mysql,rustls to compare)"
fi

# No-op at head: the engine's own time, best of 10.
fresh; engine "$WORK/m$N" >/dev/null
noop=$(for _ in $(seq 1 10); do engine "$WORK/m$N" | python3 -c "import json,sys; print(json.load(sys.stdin)['elapsed_ms'])"; done | sort -g | head -1)
t0=$(now); engine "$WORK/m$N" >/dev/null; t1=$(now)
printf "  %-34s %7.1f ms in the engine (target < 20 ms); %.0f ms for the whole process\n" "no-op run at head" "$noop" "$(python3 -c "print(($t1-$t0)*1000)")"

# Linear: time per migration at 100, 200, 400.
for n in 100 200 400; do
  gen "$WORK/l$n" "$n"
  t=$(best engine "$WORK/l$n")
  printf '  %-34s %7.3f s   %.2f ms per migration\n' "schemagate up, $n migrations" "$t" "$(python3 -c "print($t*1000/$n)")"
done
