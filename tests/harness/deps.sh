#!/usr/bin/env bash
# Installs the Debian packages QR Event needs, only those missing (dpkg-query first:
# apt-get costs seconds even when there is nothing to do). Used by make run/test/bench.
set -euo pipefail

QR_PACKAGES=(
    make gcc perl curl ca-certificates
    postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libpq-dev
    redis-server libhiredis-dev libcivetweb-dev libssl-dev openssl
    libcmocka-dev
    clang libclang-rt-14-dev
    wrk
    # tests/gateway/t/live_page.t: Debian's Chromium (playwright-core drives it and never
    # downloads a browser) and a font for its screenshots; the test runs `npm ci` in
    # tests/browser itself when tests/browser/node_modules is missing.
    chromium fonts-dejavu-core
    # make bench, section edge: nginx serving the same bytes as the cached gateway
    nginx
    gnuplot-nox  # make bench: the report's charts (tests/bench/report.pl)
    sqlsmith  # make fuzz-sql: random SQL against the extension (tests/fuzz/sqlsmith.sh)
    # make security-sqlmap: SQL-injection probes of every route's parameters
    sqlmap
)

missing=()
for pkg in "${QR_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done
# node and npm for tests/browser: Debian's only when either command is missing, since a
# Node.js installed from elsewhere brings its own npm and conflicts with Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packages must not start system services (nginx would take port 80): the bench starts
# its own nginx on a free loopback port. policy-rc.d refuses every start while we install.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=true
fi
status=0
"${sudo[@]}" apt-get update -qq || status=$?
[ $status -ne 0 ] || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || status=$?
if $own_policy; then "${sudo[@]}" rm -f "$policy"; fi
[ $status -eq 0 ] || exit $status
echo "deps: done"
