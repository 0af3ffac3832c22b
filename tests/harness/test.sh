#!/usr/bin/env bash
# make test: every suite against throwaway PostgreSQL 15 and Redis servers that this
# script starts and always stops. Suites: regress (pg_regress + isolation), tap
# (pgTAP, extension TAP tests, C unit tests, gateway integration tests, security TAP
# tests, fuzz smoke).
# Ends with one plain line "N passed, N failed"; exit status 1 on any failure.
#     tests/harness/test.sh [regress] [tap] [TAP files...]
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
source tests/harness/servers.sh
trap qr_servers_cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0

# Adds a suite's counts to the totals.
count() {
    passed=$((passed + $1))
    failed=$((failed + $2))
}

# pg_regress and isolation specs through PGXS; their output is not TAP, so count lines.
run_regress() {
    local log="$QR_ROOT/installcheck.log" ok bad
    echo "== pg_regress and isolation"
    make --no-print-directory installcheck >"$log" 2>&1
    local rc=$?
    grep -E '^(test |     |ok |not ok )|tests passed|failed' "$log" | sed 's/^/   /'
    ok=$(grep -cE '\.\.\. ok' "$log")
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$log")
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
        tail -20 "$log"
    fi
    for diffs in regression.diffs output_iso/regression.diffs; do
        if [ -s "$diffs" ] && [ "$bad" -gt 0 ]; then head -100 "$diffs"; fi
    done
    count "$ok" "$bad"
}

# Everything that speaks TAP, aggregated by one TAP::Harness run.
run_tap() {
    local out="$QR_ROOT/tap.counts"
    echo "== TAP: pgTAP, extension, gateway unit, gateway integration"
    perl tests/harness/run-tap.pl "$out" "$@"
    if [ -s "$out" ]; then
        read -r ok bad <"$out"
        count "$ok" "$bad"
    else
        count 0 1
    fi
}

# The cmocka binaries built by make unit-tests.
unit_binaries() {
    local f
    for f in tests/extension/unit/test_* tests/gateway/unit/test_*; do
        case $f in *.c | *.o) ;; *) [ -x "$f" ] && echo "$f" ;; esac
    done
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(regress tap)

qr_servers_init
qr_pg_start main -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    || { echo "0 passed, 1 failed"; exit 1; }
qr_redis_start main || { echo "0 passed, 1 failed"; exit 1; }

export PGHOST=$QR_SOCKDIR PGPORT=${QR_PG_PORT[main]} PGUSER=postgres PGDATABASE=qr_test
export QR_TEST_ROOT=$top QR_TEST_TMP=$QR_ROOT QR_TEST_SOCKDIR=$QR_SOCKDIR
export QR_TEST_DB="$(qr_pg_conninfo main qr_test)"
export QR_TEST_REDIS="127.0.0.1:${QR_REDIS_PORT[main]}"
# make test-asan points the gateway tests at the sanitizer build.
export QR_TEST_GATEWAY=${QR_TEST_GATEWAY_OVERRIDE:-$top/gateway/qr_gateway}
psql -X -q -d postgres -c 'CREATE DATABASE qr_test' \
    && psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION qr_event' -c 'CREATE EXTENSION pgtap' \
    || { echo "0 passed, 1 failed"; exit 1; }
# A streaming replica of the test cluster, for the gateway's read routing tests.
qr_pg_start_replica replica main -c fsync=off -c full_page_writes=off \
    || { echo "0 passed, 1 failed"; exit 1; }
export QR_TEST_REPLICA_DB="$(qr_pg_conninfo replica qr_test)"
export QR_TEST_REPLICA_PORT=${QR_PG_PORT[replica]} QR_TEST_REPLICA_DATA=${QR_PG_DATA[replica]}
export QR_TEST_REPLICA_LOG=$QR_ROOT/pg-replica.log QR_TEST_PGBIN=$QR_PGBIN

tap_files=()
for suite in "${suites[@]}"; do
    case $suite in
        regress) run_regress ;;
        tap) tap_files+=(tests/pgtap/*.sql tests/extension/*.t $(unit_binaries) tests/gateway/t/*.t
                        tests/security/*.t tests/fuzz/*.t) ;;
        *) tap_files+=("$suite") ;;
    esac
done
if [ ${#tap_files[@]} -gt 0 ]; then
    existing=()
    for f in "${tap_files[@]}"; do [ -e "$f" ] && existing+=("$f"); done
    run_tap "${existing[@]}"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
