#!/usr/bin/env bash
# make faults: the fault suite (tests/faults/*.t) against real servers under steady load.
# Each test starts its own PostgreSQL cluster, Redis and gateway (tests/lib/QRFaults.pm),
# keeps a bounded loopback load of leaderboard reads, history reads, new families and
# door scans going, breaks something, and checks the answers during and after it and
# what Postgres holds afterwards. One at a time, so that faults do not overlap on the
# machine. Prints one line per fault and ends with one line
#     faults: N faults, N failed: pass      (or: FAIL)
#     tests/faults/run.sh [tests/faults/<name>.t ...]
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
results=$(mktemp)
trap 'rm -f "$results"' EXIT

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/faults/*.t)
QR_FAULTS_RESULTS=$results QR_TEST_JOBS=1 bash tests/harness/test.sh "${files[@]}"
rc=$?

echo
echo "== faults"
cat "$results"
total=$(grep -c '^fault ' "$results")
failed=$(grep -c '^fault .*: FAIL' "$results")
if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$total" -gt 0 ]; then
    echo "faults: $total faults, 0 failed: pass"
else
    echo "faults: $total faults, $failed failed: FAIL"
    exit 1
fi
