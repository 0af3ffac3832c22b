#!/usr/bin/env bash
# make security-sqlmap: Debian's sqlmap against every parameter of the gateway's routes,
# on loopback, against a throwaway PostgreSQL 15 with the demo event, Redis and
# qr_gateway (rate limits off: sqlmap sends thousands of requests). Each probe names its
# parameters with sqlmap's * marker (path segments, query parameters, JSON body fields,
# the bearer token) and runs boolean, error, UNION and stacked techniques at level 2.
# Passes when sqlmap finds no parameter injectable; prints its verdict per probe and
# ends with one line
#     sqlmap: N probes, N findings: pass      (or: FAIL)
# SQLMAP_ARGS adds options (e.g. --technique=BEUSTQ --level=3 for a longer run).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
source tests/harness/servers.sh
gw_pid=""
trap '[ -n "$gw_pid" ] && kill -TERM "$gw_pid" 2>/dev/null; qr_servers_cleanup' EXIT
trap 'exit 130' INT TERM

command -v sqlmap >/dev/null || { echo "sqlmap: not installed (make deps)"; echo "sqlmap: 0 probes, 0 findings: FAIL"; exit 1; }

qr_servers_init
qr_pg_start main -c fsync=off -c synchronous_commit=off || exit 1
qr_redis_start main || exit 1
export PGHOST=$QR_SOCKDIR PGPORT=${QR_PG_PORT[main]} PGUSER=postgres
psql -X -q -d postgres -c 'CREATE DATABASE qr_sqlmap' &&
    psql -X -q -v ON_ERROR_STOP=1 -d qr_sqlmap -c 'CREATE EXTENSION qr_event' &&
    psql -X -q -v ON_ERROR_STOP=1 -d qr_sqlmap -f tests/fixtures/demo.sql >/dev/null || exit 1

port=$(qr_free_port)
base="http://127.0.0.1:$port"
QR_GATEWAY_LISTEN="127.0.0.1:$port" QR_GATEWAY_DB="$(qr_pg_conninfo main qr_sqlmap)" \
    QR_GATEWAY_REDIS="127.0.0.1:${QR_REDIS_PORT[main]}" QR_GATEWAY_RATE_LIMITS=off \
    QR_GATEWAY_JWT_SECRET="sqlmap-secret-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
    QR_GATEWAY_ACCESS_LOG=off "$top/gateway/qr_gateway" >"$QR_ROOT/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

token=$(curl -fsS -X POST "$base/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email": "organiser@demo.qr-event.test", "password": "demo-organiser-pass"}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
event=$(psql -X -At -d qr_sqlmap -c "SELECT id FROM qr_event.events ORDER BY id LIMIT 1")
game=$(psql -X -At -d qr_sqlmap -c "SELECT id FROM qr_event.games WHERE status = 'live' ORDER BY id LIMIT 1")
qr=$(psql -X -At -d qr_sqlmap -c "SELECT token FROM qr_event.qr_codes WHERE status = 'active' ORDER BY id LIMIT 1")
[ -n "$token" ] && [ -n "$event" ] && [ -n "$game" ] && [ -n "$qr" ] || { echo "sqlmap: no fixtures"; exit 1; }
auth="Authorization: Bearer $token"

# name|method|url with * markers|body (JSON with * markers, or empty)|extra header
probes=(
    "leaderboard query|GET|$base/api/games/$game/leaderboard?limit=5*&rank_mode=dense*&cursor=x*||"
    "leaderboard path|GET|$base/api/games/$game*/leaderboard/1*?radius=2*||"
    "events list|GET|$base/api/events?limit=5*&cursor=x*||$auth"
    "event guests|GET|$base/api/events/$event*/guests?limit=5*||$auth"
    "qr history|GET|$base/api/qr/$qr*/history?limit=5*||$auth"
    "login body|POST|$base/api/auth/login|{\"email\":\"organiser@demo.qr-event.test*\",\"password\":\"x*\"}|"
    "guest login body|POST|$base/api/auth/guest|{\"qr_token\":\"$qr*\"}|"
    "add guest body|POST|$base/api/events/$event/guests|{\"first_name\":\"Ann*\",\"last_name\":\"B*\",\"email\":\"a@b.c*\"}|$auth"
    "scan body|POST|$base/api/qr/$qr/scan|{\"gate\":\"North*\",\"device\":\"d*\"}|$auth"
    "bearer token|GET|$base/api/events|| Authorization: Bearer x*"
)

findings=0
count=0
for probe in "${probes[@]}"; do
    IFS='|' read -r name method url body header <<<"$probe"
    count=$((count + 1))
    out="$QR_ROOT/sqlmap-$count"
    args=(-u "$url" --method "$method" --batch --flush-session --output-dir "$out" --level 2 --risk 1
          --technique BEUS --threads 4 --timeout 10 --retries 1 --disable-coloring
          --ignore-code 400,401,403,404,409,415,422 --skip-waf)
    [ -n "$body" ] && args+=(--data "$body" --headers "Content-Type: application/json")
    [ -n "$header" ] && args+=(--headers "${header# }")
    # shellcheck disable=SC2086
    sqlmap "${args[@]}" ${SQLMAP_ARGS:-} >"$out.log" 2>&1
    # A heuristic "appears to be injectable" that sqlmap's own confirmation then rejects
    # (answers of writes differ every time) is no finding; an identified injection point
    # is, and so is a run that ends without sqlmap's verdict on every parameter.
    if grep -qE 'sqlmap identified the following injection point|is vulnerable' "$out.log"; then
        findings=$((findings + 1))
        echo "sqlmap: $name: FINDING"
        grep -iE 'Parameter:|Type:|Payload:' "$out.log" | head -20
    elif ! grep -q 'all tested parameters do not appear to be injectable' "$out.log"; then
        findings=$((findings + 1))
        echo "sqlmap: $name: no verdict (see below)"
        tail -15 "$out.log"
    else
        echo "sqlmap: $name: $(grep -c 'does not seem to be injectable' "$out.log") parameters, none injectable"
    fi
done
if [ "$findings" -eq 0 ]; then
    echo "sqlmap: $count probes, 0 findings: pass"
    exit 0
fi
echo "sqlmap: $count probes, $findings findings: FAIL"
exit 1
