#!/usr/bin/env bash
# make bench: benchmarks against throwaway servers, each figure with a baseline
# measured in the same run. Sections: cursor, leaderboard, audit, gateway, edge. Reports go to stdout
# and .bench/<section>.md.
#     tests/bench/run.sh [section...]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
source tests/harness/servers.sh
source tests/bench/leaderboard.sh
source tests/bench/audit.sh
source tests/bench/gateway.sh
source tests/bench/edge.sh
trap 'jobs -p | xargs -r kill 2>/dev/null || true; bench_nginx_stop; qr_servers_cleanup' EXIT
trap 'exit 130' INT TERM

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(cursor leaderboard audit gateway edge)
rows=${QR_BENCH_ROWS:-1000000}
out="$top/.bench"
mkdir -p "$out"

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
        ;;
esac

for section in "${sections[@]}"; do
    case $section in
        cursor)
            echo
            echo "## cursor: keyset pages via qr_event.paginate vs OFFSET ($rows rows, machine: $(nproc) cores)"
            echo
            psql -X -q -v ON_ERROR_STOP=1 -f tests/bench/cursor.sql | tee "$out/cursor.md"
            ;;
        leaderboard)
            echo
            echo "## leaderboard: qr_event.leaderboard* vs naive SQL and Redis ($rows completed participations, one game)"
            echo
            bench_leaderboard | tee "$out/leaderboard.md"
            ;;
        audit)
            echo
            echo "## audit: door scans with hash chain and projection vs plain inserts; verify_audit (machine: $(nproc) cores)"
            echo
            bench_audit | tee "$out/audit.md"
            ;;
        gateway)
            echo
            echo "## gateway: qr_gateway vs the same SQL call ($rows completed participations, machine: $(nproc) cores)"
            echo
            bench_gateway | tee "$out/gateway.md"
            ;;
        edge)
            echo
            echo "## edge: cached qr_gateway with rate limiting vs nginx static ($rows completed participations, machine: $(nproc) cores)"
            echo
            bench_edge | tee "$out/edge.md"
            ;;
        *) echo "bench: unknown section $section" >&2; exit 2 ;;
    esac
done
