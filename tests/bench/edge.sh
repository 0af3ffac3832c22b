# Edge section of make bench (sourced by tests/bench/run.sh after the data load).
# Cached GET /api/games/{id}/leaderboard through qr_gateway, rate limiting on with
# limits raised for the run, at 64 connections (wrk), beside nginx serving the same
# bytes as a static file, in alternating rounds; the gateway's p99 from wrk's latency
# distribution; and recomputes per expiry of the hot key (1 s TTL) under 64
# connections, from the gateway's own cache counters.
# The gateway runs with its default settings (32 threads) but for the raised limits,
# the access log off (as for nginx) and log level warn.

# Starts a private nginx serving directory $1 on port $2 (2 workers, no access log).
bench_nginx_start() {
    local root=$1 port=$2 conf="$QR_ROOT/nginx"
    local user_line=""
    mkdir -p "$conf"
    chmod 755 "$conf" "$root"
    if [ "$(id -u)" -eq 0 ]; then user_line="user nobody nogroup;"; fi
    cat >"$conf/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $conf/nginx.pid;
error_log $conf/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $conf/body;
    proxy_temp_path $conf/proxy;
    fastcgi_temp_path $conf/fastcgi;
    uwsgi_temp_path $conf/uwsgi;
    scgi_temp_path $conf/scgi;
    types { application/json json; }
    server {
        listen 127.0.0.1:$port;
        root $root;
    }
}
CONF
    nginx -c "$conf/nginx.conf" -p "$conf" 2>>"$conf/error.log"
}

# Stops the private nginx.
bench_nginx_stop() {
    local pidfile="$QR_ROOT/nginx/nginx.pid"
    [ -f "$pidfile" ] && kill -QUIT "$(cat "$pidfile")" 2>/dev/null || true
}

# The sum of qr_gateway_cache_total samples of class realtime with result $2, from /metrics at $1.
bench_cache_count() {
    curl -fsS "$1/metrics" | awk -v r="$2" '
        /^qr_gateway_cache_total\{/ && index($0, "class=\"realtime\"") && index($0, "result=\"" r "\"") { s += $NF }
        END { print s + 0 }'
}

# Starts qr_gateway on port $1 with extra environment "$@"; prints its pid.
bench_edge_gateway() {
    local port=$1; shift
    env QR_GATEWAY_LISTEN="127.0.0.1:$port" \
        QR_GATEWAY_DB="$(qr_pg_conninfo main qr_bench)" \
        QR_GATEWAY_REDIS="127.0.0.1:${QR_REDIS_PORT[main]}" \
        QR_GATEWAY_JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        QR_GATEWAY_LOG_LEVEL=warn QR_GATEWAY_ACCESS_LOG=off \
        QR_GATEWAY_RATE_LIMITS=on \
        QR_GATEWAY_RATE_ANONYMOUS="1000000000/s,burst=10000000,concurrent=1000" \
        QR_GATEWAY_RATE_LEADERBOARD="1000000000/s,burst=10000000" \
        "$@" "$top/gateway/qr_gateway" >>"$QR_ROOT/gateway-edge.log" 2>&1 &
    echo $!
}

bench_edge() {
    local game port nport base url static rounds=3 round gws ngs ratios p99s
    game=$(psql -X -At -c "SELECT id FROM qr_event.games WHERE title = 'Bench Game'")
    port=$(qr_free_port)
    nport=$(qr_free_port)
    spid=""
    gw_pid=$(bench_edge_gateway "$port")
    # The section runs in a pipeline's subshell, whose jobs run.sh's EXIT trap cannot see.
    # gw_pid and spid are global: the trap may run after the function's locals are gone.
    trap 'kill -TERM "$gw_pid" "${spid:-}" 2>/dev/null || true; bench_nginx_stop' EXIT
    base="http://127.0.0.1:$port"
    url="$base/api/games/$game/leaderboard?limit=20"
    for _ in $(seq 100); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.1; done
    static="$QR_ROOT/static"
    mkdir -p "$static"
    curl -fsS "$url" >"$static/leaderboard.json"
    curl -fsS "$url" | grep -o '"cache":"[a-z]*"' >&2
    bench_nginx_start "$static" "$nport"
    for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$nport/leaderboard.json" >/dev/null 2>&1 && break; sleep 0.1; done
    echo "bench: cached gateway vs nginx on the same $(wc -c <"$static/leaderboard.json") bytes ($rounds alternating rounds)" >&2
    gws=() ngs=() ratios=() p99s=()
    for round in $(seq $rounds); do
        local text
        text=$(wrk -t2 -c64 -d10s --latency "$url" 2>/dev/null)
        gws+=("$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$text")")
        p99s+=("$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
                   else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
                   printf "%.2f", v }' <<<"$text")")
        ngs+=("$(bench_wrk_rps "http://127.0.0.1:$nport/leaderboard.json" 10)")
        ratios+=("$(awk -v a="${ngs[-1]}" -v b="${gws[-1]}" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')")
    done
    bench_nginx_stop
    kill -TERM "$gw_pid" 2>/dev/null
    wait "$gw_pid" 2>/dev/null || true

    # Stampede: a 1 s TTL without early refresh, 64 connections for 10 s, on a key of
    # its own (limit=21: nothing cached yet, no 30 s value of the first gateway in Redis).
    local sport before after expiries=10 per
    sport=$(qr_free_port)
    spid=$(bench_edge_gateway "$sport" QR_GATEWAY_CACHE_TTL_REALTIME_S=1 QR_GATEWAY_CACHE_BETA_REALTIME=0)
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$sport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS "http://127.0.0.1:$sport/api/games/$game/leaderboard?limit=21" >/dev/null
    before=$(( $(bench_cache_count "http://127.0.0.1:$sport" miss) + $(bench_cache_count "http://127.0.0.1:$sport" refresh) ))
    wrk -t2 -c64 -d${expiries}s "http://127.0.0.1:$sport/api/games/$game/leaderboard?limit=21" >/dev/null 2>&1
    after=$(( $(bench_cache_count "http://127.0.0.1:$sport" miss) + $(bench_cache_count "http://127.0.0.1:$sport" refresh) ))
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null || true
    per=$(awk -v n="$(( after - before ))" -v e="$expiries" 'BEGIN { printf "%.2f", n / e }')

    local med_gw med_ng med_ratio med_p99
    med_gw=$(bench_median "${gws[@]}")
    med_ng=$(bench_median "${ngs[@]}")
    med_ratio=$(bench_median "${ratios[@]}")
    med_p99=$(bench_median "${p99s[@]}")
    echo
    echo "### cached leaderboard top page (20 rows), 64 connections, 10 s per run, rate limiting on"
    echo
    echo "| path | requests/s (median) | per round |"
    echo "| --- | ---: | --- |"
    echo "| GET /api/games/$game/leaderboard?limit=20 through qr_gateway, cached (wrk) | $med_gw | ${gws[*]} |"
    echo "| nginx serving the same bytes as a static file, 2 workers (wrk) | $med_ng | ${ngs[*]} |"
    echo "| gateway p99 latency, ms | $med_p99 | ${p99s[*]} |"
    echo "| database recomputes per expiry of a hot key (1 s TTL, so ~${expiries} expiries in ${expiries} s, 64 connections) | $per | $(( after - before )) recomputes |"
    echo
    local figure=(desc="cached leaderboard top page through qr_gateway, 64 connections, median round"
                  measured="$med_gw" unit=req/s baseline_desc="nginx serving the same bytes as a static file"
                  baseline="$med_ng" ratio="$med_ratio" ratio_of=measured/baseline)
    bench_figure edge cached-top-page "${figure[@]}"
    bench_targets_header
    bench_target edge target-cached-top-page "${figure[@]}" \
        target="cached throughput ≥ 50% of nginx on the same bytes" note="median of rounds ${ratios[*]}" \
        met="$(bench_met "$med_ratio" '>=' 0.5)" shown="$(bench_percent "$med_ratio")"
    local p99
    p99=$(awk -v p="$med_p99" 'BEGIN { printf "%.2f", p }')
    bench_target edge target-p99 desc="cached top page through qr_gateway: p99 latency at 64 connections, median round" \
        measured="$p99" unit=ms target="p99 under 10 ms at 64 connections" \
        met="$(bench_met "$med_p99" '<' 10)" shown="$p99 ms"
    bench_target edge target-recomputes desc="database recomputes per expiry of a hot key (1 s TTL, 64 connections)" \
        measured="$per" unit="recomputes per expiry" target="at most 2 recomputes per expiry of a hot key" \
        met="$(bench_met "$per" '<=' 2)" shown="$per"
}
