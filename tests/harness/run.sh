#!/usr/bin/env bash
# make run: a private PostgreSQL 15 cluster and Redis on free loopback ports (data in
# .run/ of the clone when the server user can reach it), the qr_event extension with a
# demo event, and qr_gateway on 127.0.0.1:8080 (QR_RUN_LISTEN overrides).
# Ctrl-C stops the gateway gracefully, then the servers, and removes their data.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
source tests/harness/servers.sh

listen=${QR_RUN_LISTEN:-127.0.0.1:8080}
gateway_pid=""

# Stops the gateway (SIGTERM: in-flight requests finish), then the servers. A second
# Ctrl-C (or a TERM) during the stop is ignored, so the servers are always stopped.
stop_all() {
    trap '' INT TERM
    if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
        echo
        echo "run: stopping qr_gateway"
        kill -TERM "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    echo "run: stopping PostgreSQL and Redis"
    qr_servers_cleanup
}
trap stop_all EXIT
trap 'exit 130' INT TERM

if perl -MIO::Socket::INET -e 'my ($h, $p) = $ARGV[0] =~ /^(.*):(\d+)$/;
        exit(IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Timeout => 1) ? 0 : 1)' "$listen"; then
    echo "run: $listen is already in use; stop what listens there or set QR_RUN_LISTEN" >&2
    exit 1
fi

qr_servers_init "$top/.run"
echo "run: starting PostgreSQL 15 and Redis as $(qr_server_user) (data in $QR_ROOT)"
qr_pg_start main
qr_redis_start main
pg_conninfo=$(qr_pg_conninfo main qr_event_demo)
redis_addr="127.0.0.1:${QR_REDIS_PORT[main]}"

export PGHOST=$QR_SOCKDIR PGPORT=${QR_PG_PORT[main]} PGUSER=postgres
psql -X -q -d postgres -c 'CREATE DATABASE qr_event_demo'
psql -X -q -v ON_ERROR_STOP=1 -d qr_event_demo -c 'CREATE EXTENSION qr_event'
echo "run: loading the demo event"
psql -X -q -v ON_ERROR_STOP=1 -d qr_event_demo -f tests/fixtures/demo.sql

gateway_log="$QR_ROOT/gateway.log"
QR_GATEWAY_LISTEN=$listen \
QR_GATEWAY_DB=$pg_conninfo \
QR_GATEWAY_REDIS=$redis_addr \
QR_GATEWAY_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n') \
    gateway/qr_gateway >>"$gateway_log" 2>&1 &
gateway_pid=$!

ready=""
for _ in $(seq 1 100); do
    if curl -fsS "http://$listen/readyz" >/dev/null 2>&1; then ready=yes; break; fi
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "run: qr_gateway did not become ready; its log:" >&2
    cat "$gateway_log" >&2
    exit 1
fi

game=$(psql -X -q -t -A -d qr_event_demo -c "SELECT id FROM qr_event.games WHERE title = 'Trivia Night'")

cat <<BANNER

  QR Event is running.

  qr_gateway   http://$listen   (log: $gateway_log)
  PostgreSQL   $pg_conninfo
  Redis        $redis_addr

  The whole flow with curl (log in, create an event, add a guest, issue a QR code,
  scan it twice, play, read the leaderboard) is in README.md, "A walk through the API
  with curl"; set BASE=http://$listen, then paste its block. It starts with:

    curl -s -X POST http://$listen/api/auth/login -H 'Content-Type: application/json' \\
         -d '{"email": "organiser@demo.qr-event.test", "password": "demo-organiser-pass"}'
    curl -s 'http://$listen/api/games/$game/leaderboard?limit=5'

  Open http://$listen/live/games/$game in a browser: the leaderboard updates live
  as guests play (the page follows /api/games/$game/leaderboard/stream).

  Also:
    curl -s http://$listen/readyz
    curl -s http://$listen/metrics
    psql "$pg_conninfo" -c "SELECT title, score_policy, count(*) FROM qr_event.games g JOIN qr_event.game_participations p ON p.game_id = g.id GROUP BY 1, 2 ORDER BY 1"

  Ctrl-C stops everything.

BANNER

wait "$gateway_pid"
