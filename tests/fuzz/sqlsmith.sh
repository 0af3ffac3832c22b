#!/usr/bin/env bash
# make fuzz-sql: random SQL from Debian's sqlsmith against a throwaway PostgreSQL 15 with
# the qr_event extension and the demo event (tests/fixtures/demo.sql), for
# SQLSMITH_SECONDS (180). Passes when the server log holds no backend crash (a backend
# killed by a signal or exiting abnormally, a PANIC, a failed assertion); else prints the
# crash's log lines, the query the backend was running among them, keeps both logs in
# tests/fuzz/artifacts/ and fails. Ends with one line
#     sqlsmith: N queries, N crashes: pass      (or: FAIL)
# sqlsmith runs as the superuser, since the extension's functions are executable by
# nobody else. The seed is fixed (SQLSMITH_SEED overrides) and printed; the same seed
# gives the same queries against the same schema, though timeouts may differ.
# SQLSMITH_MAX_QUERIES stops earlier after that many queries. SQLSMITH_ARGS replaces
# the extra options, by default --exclude-catalog, which keeps FROM clauses to the
# database's own tables (functions and operators still come from the whole catalog);
# SQLSMITH_ARGS= queries the catalog's relations too.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
source tests/harness/servers.sh
trap qr_servers_cleanup EXIT
trap 'exit 130' INT TERM

seconds=${SQLSMITH_SECONDS:-180}
seed=${SQLSMITH_SEED:-15062026}
extra=${SQLSMITH_ARGS---exclude-catalog}
database=qr_sqlsmith
# What PostgreSQL logs for a backend that crashed: the postmaster's report of an
# abnormal exit, a PANIC, and an assertion failure of an --enable-cassert build.
crash_pattern='server process \(PID [0-9]+\)|was terminated by signal|(^|[[:space:]])PANIC:|^TRAP:|[[:space:]]TRAP:'

# Prints the closing line and exits: pass with no crash and a run that got going.
finish() {
    local queries=$1 crashes=$2 ok=$3
    if [ "$ok" = yes ] && [ "$crashes" -eq 0 ]; then
        echo "sqlsmith: $queries queries, $crashes crashes: pass"
        exit 0
    fi
    echo "sqlsmith: $queries queries, $crashes crashes: FAIL"
    exit 1
}

command -v sqlsmith >/dev/null || { echo "sqlsmith: not installed (make deps)" >&2; finish 0 0 no; }

qr_servers_init
# Errors are the bulk of random SQL: the log keeps their messages, not their statements.
# A crash report names the query the backend ran, cut at track_activity_query_size.
qr_pg_start main -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c log_min_error_statement=panic -c track_activity_query_size=65536 || finish 0 0 no
export PGHOST=$QR_SOCKDIR PGPORT=${QR_PG_PORT[main]} PGUSER=postgres
if ! psql -X -q -d postgres -c "CREATE DATABASE $database" ||
    ! psql -X -q -v ON_ERROR_STOP=1 -d "$database" -c 'CREATE EXTENSION qr_event' ||
    ! psql -X -q -v ON_ERROR_STOP=1 -d "$database" -f tests/fixtures/demo.sql >/dev/null; then
    finish 0 0 no
fi

target=$(qr_pg_conninfo main "$database")
server_log=$QR_ROOT/pg-main.log
progress=$QR_ROOT/sqlsmith.log
max_queries=()
[ -z "${SQLSMITH_MAX_QUERIES:-}" ] || max_queries=(--max-queries="$SQLSMITH_MAX_QUERIES")
echo "sqlsmith: seed $seed for ${seconds}s against $database (rerun: SQLSMITH_SEED=$seed make fuzz-sql)"
# --verbose prints one character per query (. ok, e error, t timeout, S syntax error,
# C connection lost), then a report; the count is taken from those characters.
# shellcheck disable=SC2086
timeout "$seconds" sqlsmith --verbose --seed="$seed" --target="$target" "${max_queries[@]}" $extra \
    >"$progress" 2>&1
rc=$?
queries=$(grep -E '^[.eStC]+$' "$progress" | tr -d '\n' | wc -c)
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    echo "sqlsmith: exited with status $rc; its last lines:"
    tail -20 "$progress" | cut -c1-200
fi
lost=$(grep -E '^[.eStC]+$' "$progress" | tr -cd 'C' | wc -c)
[ "$lost" -eq 0 ] || echo "sqlsmith: lost its connection $lost times"

crashes=$(grep -cE 'server process \(PID [0-9]+\)|was terminated by signal' "$server_log")
[ "$crashes" -gt 0 ] || crashes=$(grep -cE "$crash_pattern" "$server_log")
if [ "$crashes" -gt 0 ]; then
    echo "sqlsmith: the server log reports a crash; its lines:"
    # Each crash line, with the DETAIL (the query), STATEMENT and CONTEXT lines after it
    # and their continuation lines.
    awk -v pat="$crash_pattern" '
        $0 ~ pat { print; more = 1; next }
        more && ($0 !~ /^[0-9][0-9][0-9][0-9]-/ || $0 ~ /(DETAIL|STATEMENT|CONTEXT):  /) { print; next }
        { more = 0 }' "$server_log" | head -300
    mkdir -p tests/fuzz/artifacts
    cp "$server_log" "tests/fuzz/artifacts/sqlsmith-$seed-server.log"
    cp "$progress" "tests/fuzz/artifacts/sqlsmith-$seed-progress.log"
    echo "sqlsmith: logs kept in tests/fuzz/artifacts/sqlsmith-$seed-*.log"
fi
# A run that never got a query through is no pass: sqlsmith could not start.
started=no
if [ "$queries" -gt 0 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; }; then started=yes; fi
finish "$queries" "$crashes" "$started"
