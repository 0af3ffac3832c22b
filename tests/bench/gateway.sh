# Gateway section of make bench (sourced by tests/bench/run.sh after the data load;
# PG* variables point at the bench database, QR_REDIS_PORT[main] at Redis). Uncached
# (cache and rate limits off: every request reaches Postgres)
# GET /api/games/{id}/leaderboard through qr_gateway at 64 connections (wrk) beside
# pgbench running the very statement the gateway sends, at 64 clients, in alternating
# rounds: the ratio is the gateway's overhead.

# Requests per second of wrk on $1 with 64 connections for $2 seconds.
bench_wrk_rps() {
    wrk -t2 -c64 -d"$2"s "$1" 2>/dev/null | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}

bench_gateway() {
    local game port script url rounds=3 round gws sqls ratios
    game=$(psql -X -At -c "SELECT id FROM qr_event.games WHERE title = 'Bench Game'")
    psql -X -q -At -c "SELECT qr_event.leaderboard_rebuild($game)" >/dev/null
    port=$(qr_free_port)
    echo "bench: starting qr_gateway on 127.0.0.1:$port (64 threads)" >&2
    QR_GATEWAY_LISTEN="127.0.0.1:$port" QR_GATEWAY_THREADS=64 \
        QR_GATEWAY_DB="$(qr_pg_conninfo main qr_bench)" \
        QR_GATEWAY_REDIS="127.0.0.1:${QR_REDIS_PORT[main]}" \
        QR_GATEWAY_JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        QR_GATEWAY_LOG_LEVEL=warn QR_GATEWAY_ACCESS_LOG=off \
        QR_GATEWAY_CACHE=off QR_GATEWAY_RATE_LIMITS=off \
        "$top/gateway/qr_gateway" >"$QR_ROOT/gateway-bench.log" 2>&1 &
    gw_pid=$!
    # The section runs in a pipeline's subshell, whose jobs run.sh's EXIT trap cannot see.
    # gw_pid is global: the trap may run after the function's locals are gone.
    trap 'kill -TERM "$gw_pid" 2>/dev/null || true' EXIT
    url="http://127.0.0.1:$port/api/games/$game/leaderboard?limit=20"
    for _ in $(seq 100); do
        curl -fsS "$url" >/dev/null 2>&1 && break
        sleep 0.1
    done
    { curl -fsS "$url" || true; } | head -c 300 >&2; echo >&2
    script=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    cat >"$script" <<SQL
SELECT r->'data', r->'pagination', r->>'count', coalesce((r->>'status')::int, 200)
FROM qr_event.http_leaderboard(NULL, '{"id": "$game", "limit": "20"}'::jsonb, NULL) AS r;
SQL
    echo "bench: gateway vs direct SQL ($rounds alternating rounds)" >&2
    gws=() sqls=() ratios=()
    for round in $(seq $rounds); do
        gws+=("$(bench_wrk_rps "$url" 10)")
        sqls+=("$("$QR_PGBIN/pgbench" -n -M extended -c 64 -j 2 -T 10 -f "$script" 2>/dev/null \
                  | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')")
        ratios+=("$(awk -v a="${sqls[-1]}" -v b="${gws[-1]}" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')")
    done
    kill -TERM "$gw_pid" 2>/dev/null
    wait "$gw_pid" 2>/dev/null || true
    rm -f "$script"
    local med_gw med_sql med_ratio
    med_gw=$(bench_median "${gws[@]}")
    med_sql=$(bench_median "${sqls[@]}")
    med_ratio=$(bench_median "${ratios[@]}")
    echo
    echo "### uncached leaderboard top page (20 rows), 64 connections, 10 s per run"
    echo
    echo "| path | requests/s (median) | per round |"
    echo "| --- | ---: | --- |"
    echo "| GET /api/games/$game/leaderboard?limit=20 through qr_gateway (wrk) | $med_gw | ${gws[*]} |"
    echo "| the same SQL call directly (pgbench -M extended, 64 clients) | $med_sql | ${sqls[*]} |"
    echo
    local figure=(desc="uncached leaderboard top page through qr_gateway, 64 connections, median round"
                  measured="$med_gw" unit=req/s baseline_desc="the same SQL call directly (pgbench, 64 clients)"
                  baseline="$med_sql" ratio="$med_ratio" ratio_of=measured/baseline)
    bench_figure gateway uncached-top-page "${figure[@]}"
    bench_targets_header
    bench_target gateway target-uncached-top-page "${figure[@]}" \
        target="gateway ≥ 60% of the direct SQL call" note="median of rounds ${ratios[*]}" \
        met="$(bench_met "$med_ratio" '>=' 0.6)" shown="$(bench_percent "$med_ratio")"
}
