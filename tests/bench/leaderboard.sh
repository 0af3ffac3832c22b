# Leaderboard section of make bench (sourced by tests/bench/run.sh after the data
# load; PG* variables point at the bench database, QR_REDIS_PORT[main] at Redis).
# Prints three tables: in-database times beside naive SQL; client-observed
# latency beside Redis sorted sets on the same data; score-update throughput
# with and without the leaderboard triggers.

# Median client latency (ms) of one SQL statement over $2 seconds, one client.
bench_pg_latency() {
    local sql=$1 seconds=$2 script
    script=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    printf '%s\n' "$sql" >"$script"
    "$QR_PGBIN/pgbench" -n -c 1 -T "$seconds" -f "$script" 2>/dev/null \
        | sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'
    rm -f "$script"
}

# p50 latency (ms) of one Redis command, one client, 20,000 calls.
bench_redis_latency() {
    redis-benchmark -h 127.0.0.1 -p "${QR_REDIS_PORT[main]}" -c 1 -n 20000 --csv "$@" \
        | tail -1 | awk -F'","' '{print $5}'
}

# Transactions per second of random score updates with $1 clients for $2 seconds.
bench_update_tps() {
    local clients=$1 seconds=$2 script
    script=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    cat >"$script" <<SQL
\set id random($lb_min_id, $lb_max_id)
UPDATE qr_event.game_participations SET total_score = total_score + 1, updated_at = now() WHERE id = :id;
SQL
    "$QR_PGBIN/pgbench" -n -c "$clients" -j "$clients" -T "$seconds" -f "$script" 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
    rm -f "$script"
}

bench_leaderboard() {
    local game first median last deep lb_min_id lb_max_id
    game=$(psql -X -At -c "SELECT id FROM qr_event.games WHERE title = 'Bench Game'")
    echo "bench: building the rank structure" >&2
    psql -X -q -At -c "SELECT qr_event.leaderboard_rebuild($game)" >/dev/null
    read -r first median last < <(psql -X -At -F' ' -c "
        WITH o AS (SELECT id, row_number() OVER (ORDER BY total_score DESC, completed_at, id) AS pos,
                          count(*) OVER () AS n
                   FROM qr_event.game_participations WHERE game_id = $game AND is_completed)
        SELECT (SELECT id FROM o WHERE pos = 1), (SELECT id FROM o WHERE pos = (n + 1) / 2 LIMIT 1),
               (SELECT id FROM o WHERE pos = n LIMIT 1)")
    read -r lb_min_id lb_max_id < <(psql -X -At -F' ' -c \
        "SELECT min(id), max(id) FROM qr_event.game_participations WHERE game_id = $game")

    echo "bench: walking to depth 500,000 with leaderboard cursors" >&2
    deep=$(psql -X -At -v ON_ERROR_STOP=1 -c "
        WITH RECURSIVE walk (n, c) AS (
            SELECT 0, NULL::text
            UNION ALL
            SELECT n + 1, (SELECT l.cursor FROM qr_event.leaderboard($game, 100, c) AS l
                           ORDER BY l.rank DESC, l.participation_id DESC LIMIT 1)
            FROM walk WHERE n < 5000)
        SELECT c FROM walk WHERE n = 5000")

    echo "bench: in-database times" >&2
    echo "### in-database (median of repeated runs in one backend)"
    echo
    local figures
    figures=$(mktemp /tmp/qr_bench.XXXXXX.tsv)
    psql -X -q -v ON_ERROR_STOP=1 -v game="$game" -v first="$first" -v median="$median" \
        -v last="$last" -v deep_cursor="$deep" -v figures="$figures" -f tests/bench/leaderboard.sql \
        || { rm -f "$figures"; return 1; }
    bench_figure_rows leaderboard <"$figures"
    rm -f "$figures"

    echo "bench: loading the same scores into a Redis sorted set" >&2
    psql -X -At -F' ' -c "SELECT total_score, id FROM qr_event.game_participations
                          WHERE game_id = $game AND is_completed" \
        | awk '{ print "ZADD lb " $1 " " $2 }' \
        | redis-cli -h 127.0.0.1 -p "${QR_REDIS_PORT[main]}" --pipe >/dev/null
    echo "bench: client-observed latency (libpq vs Redis)" >&2
    local pg_rank redis_rank pg_top redis_top pg_deep redis_deep
    pg_rank=$(bench_pg_latency "SELECT * FROM qr_event.leaderboard_rank($game, $last);" 5)
    redis_rank=$(bench_redis_latency ZREVRANK lb "$last")
    pg_top=$(bench_pg_latency "SELECT * FROM qr_event.leaderboard($game, 20);" 5)
    redis_top=$(bench_redis_latency ZREVRANGE lb 0 19 WITHSCORES)
    pg_deep=$(bench_pg_latency "SELECT * FROM qr_event.leaderboard($game, 20, '$deep');" 5)
    redis_deep=$(bench_redis_latency ZREVRANGE lb 500000 500019 WITHSCORES)
    echo
    echo "### client-observed latency, one client on loopback (pgbench average; redis-benchmark p50)"
    echo
    echo "| operation | qr_event (libpq) | Redis | qr_event / Redis |"
    echo "| --- | ---: | --- | ---: |"
    local id operation pg redis command ratio
    while IFS="|" read -r id operation pg redis command; do
        ratio=$(bench_ratio "$redis" "$pg")
        echo "| $operation | $pg ms | $command: $redis ms | $ratio× |"
        bench_figure leaderboard "$id" desc="$operation, client-observed (libpq)" measured="$pg" unit=ms \
            baseline_desc="Redis $command" baseline="$redis" ratio="$ratio" ratio_of=measured/baseline
    done <<ROWS
client-rank-last|rank of the last participant|$pg_rank|$redis_rank|ZREVRANK
client-top-page|top page (20 rows, names joined)|$pg_top|$redis_top|ZREVRANGE 0 19
client-page-500000|page at depth 500,000|$pg_deep|$redis_deep|ZREVRANGE 500000 500019
ROWS
    echo
    echo "Redis ranks are ordinal with ties in member order, outside any transaction, and carry no names."

    echo "bench: score-update throughput (3 alternating rounds per client count)" >&2
    local clients round with without ratios
    local -A med_with=() med_without=() med_ratio=() all_ratios=()
    for clients in 1 8; do
        with=() without=() ratios=()
        for round in 1 2 3; do
            psql -X -q -c 'ALTER TABLE qr_event.game_participations ENABLE TRIGGER USER'
            psql -X -q -At -c "SELECT qr_event.leaderboard_rebuild($game)" >/dev/null
            with+=("$(bench_update_tps "$clients" 10)")
            psql -X -q -c 'ALTER TABLE qr_event.game_participations DISABLE TRIGGER USER'
            without+=("$(bench_update_tps "$clients" 10)")
            ratios+=("$(awk -v a="${without[-1]}" -v b="${with[-1]}" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')")
        done
        med_with[$clients]=$(bench_median "${with[@]}")
        med_without[$clients]=$(bench_median "${without[@]}")
        med_ratio[$clients]=$(bench_median "${ratios[@]}")
        all_ratios[$clients]="${ratios[*]}"
    done
    psql -X -q -c 'ALTER TABLE qr_event.game_participations ENABLE TRIGGER USER'
    psql -X -q -At -c "SELECT qr_event.leaderboard_rebuild($game)" >/dev/null
    echo
    echo "### score updates (random participant, total_score + 1; 10 s per run, 3 alternating rounds; fsync off)"
    echo
    echo "| clients | no trigger (median) | with leaderboard maintenance (median) | with / without, per round | median |"
    echo "| ---: | ---: | ---: | --- | ---: |"
    local -a figure
    for clients in 1 8; do
        echo "| $clients | ${med_without[$clients]} tps | ${med_with[$clients]} tps | ${all_ratios[$clients]} | ${med_ratio[$clients]} |"
        figure=(desc="score updates with leaderboard maintenance, $clients client$([ "$clients" -eq 1 ] || echo s), median round"
                measured="${med_with[$clients]}" unit=tps baseline_desc="the same updates, no trigger"
                baseline="${med_without[$clients]}" ratio="${med_ratio[$clients]}" ratio_of=measured/baseline)
        bench_figure leaderboard "updates-$clients-clients" "${figure[@]}"
    done
    echo
    bench_targets_header
    # figure: the 8 clients' (the loop's last)
    bench_target leaderboard target-updates-8-clients "${figure[@]}" \
        target="8 clients with maintenance ≥ 70% of no trigger (median round)" \
        met="$(bench_met "${med_ratio[8]}" '>=' 0.7)" shown="$(bench_percent "${med_ratio[8]}")"
}
