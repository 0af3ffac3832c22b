#!/usr/bin/env bash
# make bench: benchmarks against throwaway servers, each figure with a baseline
# measured in the same run. Sections: cursor, leaderboard, audit, gateway, edge.
#     tests/bench/run.sh [section...]        (make bench BENCH="cursor audit")
#
# Each section prints Markdown tables to stdout and writes them to .bench/<section>.md,
# and its figures (every figure with a baseline, every target) to .bench/<section>.tsv
# (columns in tests/bench/lib.sh). At the end tests/bench/report.pl writes the run's
# report from the sections that ran: report.md (machine, one table of every figure,
# a chart per section, the sections' tables), report.json (the same data) and one
# gnuplot PNG per section; then a last line "bench: N targets, M met: pass" (or FAIL).
# A section that fails is reported and the others still run; the exit status is
# non-zero when a target was missed or a section failed.
#
# Knobs (environment):
#     QR_BENCH_ROWS          participations loaded for cursor, leaderboard, gateway, edge
#                            (default 1000000)
#     QR_BENCH_AUDIT_CODES   QR codes scanned by the audit section (default 50000)
#     QR_BENCH_AUDIT_EVENTS  audit events verify_audit checks (default 1000000)
#     QR_BENCH_REPORT_DIR    where the report goes (default .bench/report)
#     QR_BENCH_PUBLISH=1     also copy the report to docs/bench/ (make bench-publish);
#                            only for a run of every section
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
report_dir=${QR_BENCH_REPORT_DIR:-$top/.bench/report}
case $report_dir in /*) ;; *) report_dir="$PWD/$report_dir" ;; esac
cd "$top"
source tests/harness/servers.sh
source tests/bench/lib.sh
source tests/bench/cursor.sh
source tests/bench/leaderboard.sh
source tests/bench/audit.sh
source tests/bench/gateway.sh
source tests/bench/edge.sh
trap 'jobs -p | xargs -r kill 2>/dev/null || true; bench_nginx_stop; qr_servers_cleanup' EXIT
trap 'exit 130' INT TERM

all_sections=(cursor leaderboard audit gateway edge)
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=("${all_sections[@]}")
rows=${QR_BENCH_ROWS:-1000000}
bench_out="$top/.bench"
loaded_rows=""
mkdir -p "$bench_out"

declare -A titles=(
    [cursor]="keyset pages via qr_event.paginate vs OFFSET ($rows rows, machine: $(nproc) cores)"
    [leaderboard]="qr_event.leaderboard* vs naive SQL and Redis ($rows completed participations, one game)"
    [audit]="door scans with hash chain and projection vs plain inserts; verify_audit (machine: $(nproc) cores)"
    [gateway]="qr_gateway vs the same SQL call ($rows completed participations, machine: $(nproc) cores)"
    [edge]="cached qr_gateway with rate limiting vs nginx static ($rows completed participations, machine: $(nproc) cores)"
)
for section in "${sections[@]}"; do
    [ -n "${titles[$section]:-}" ] || { echo "bench: unknown section $section" >&2; exit 2; }
done
if [ "${QR_BENCH_PUBLISH:-0}" = 1 ] && [ "${sections[*]}" != "${all_sections[*]}" ]; then
    echo "bench: QR_BENCH_PUBLISH=1 publishes runs of every section only (${all_sections[*]})" >&2
    exit 2
fi

qr_servers_init
# Durable settings are irrelevant to read benchmarks; memory is sized for 1M rows.
qr_pg_start main -c fsync=off -c synchronous_commit=off -c shared_buffers=512MB \
    -c max_wal_size=4GB -c checkpoint_timeout=30min -c max_connections=200 \
    -c autovacuum_naptime=5s
qr_redis_start main
export PGHOST=$QR_SOCKDIR PGPORT=${QR_PG_PORT[main]} PGUSER=postgres PGDATABASE=qr_bench
psql -X -q -d postgres -c 'CREATE DATABASE qr_bench'
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION qr_event'

# The cursor, leaderboard, gateway and edge sections share one million participations.
case " ${sections[*]} " in
    *" cursor "* | *" leaderboard "* | *" gateway "* | *" edge "*)
        echo "bench: loading $rows participations"
        start=$(date +%s)
        psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -f tests/bench/data_participations.sql
        echo "bench: data loaded in $(( $(date +%s) - start )) s"
        loaded_rows=$rows
        ;;
esac

# sections.tsv: the sections of this run, for the report (name, title, exit status, seconds).
printf 'section\ttitle\tstatus\tseconds\n' >"$bench_out/sections.tsv"
for section in "${sections[@]}"; do
    echo
    echo "## $section: ${titles[$section]}"
    echo
    rm -f "$bench_out/$section.tsv"
    start=$(date +%s)
    # A failed section is reported and the run goes on to the next one.
    set +e
    (set -e; "bench_$section") | tee "$bench_out/$section.md"
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || echo "bench: section $section failed (exit status $status)" >&2
    printf '%s\t%s\t%s\t%s\n' "$section" "${titles[$section]}" "$status" "$(( $(date +%s) - start ))" \
        >>"$bench_out/sections.tsv"
done

echo
publish=()
[ "${QR_BENCH_PUBLISH:-0}" != 1 ] || publish=(--publish "$top/docs/bench")
perl tests/bench/report.pl --in "$bench_out" --out "$report_dir" --rows "$loaded_rows" \
    --all-sections "${all_sections[*]}" "${publish[@]}" \
    --postgresql "$(psql -X -At -c 'SHOW server_version')" \
    --redis "$(redis-cli -h 127.0.0.1 -p "${QR_REDIS_PORT[main]}" INFO server | sed -n 's/^redis_version:\(.*\)\r$/\1/p')"
