#!/usr/bin/env bash
# make security: the security suite. Through tests/harness/test.sh (its throwaway
# PostgreSQL, replica and Redis): the token table (tests/gateway/t/auth.t), the
# authorisation matrix (authz_matrix.t), error answers (errors.t) and tests/security/*.t
# (the matrix under load, input limits); then Debian's sqlmap against every route
# (tests/security/sqlmap.sh, its own servers; SECURITY_SQLMAP=0 skips it). Ends with one line
#     security: N passed, N failed, sqlmap N findings: pass      (or: FAIL)
# and exit status 1 when anything failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
logs=$(mktemp -d /tmp/qr_security.XXXXXX)
trap 'rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM

tap_files=(tests/gateway/t/auth.t tests/gateway/t/authz_matrix.t tests/gateway/t/errors.t tests/security/*.t)
bash tests/harness/test.sh "${tap_files[@]}" 2>&1 | tee "$logs/tap.log"
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/tap.log" | tail -1)
if [ -n "$counts" ]; then
    passed=${counts%% passed*}
    failed=${counts#*passed, }
    failed=${failed%% failed}
else
    passed=0
    failed=1    # the harness ended without its count line
fi

verdict=pass
[ "$failed" -eq 0 ] || verdict=FAIL
if [ "${SECURITY_SQLMAP:-1}" = 0 ]; then
    sqlmap="sqlmap skipped"
else
    bash tests/security/sqlmap.sh 2>&1 | tee "$logs/sqlmap.log"
    line=$(grep -E '^sqlmap: [0-9]+ probes, [0-9]+ findings: (pass|FAIL)$' "$logs/sqlmap.log" | tail -1)
    if [ -n "$line" ]; then
        findings=${line#*probes, }
        findings=${findings%% findings*}
        sqlmap="sqlmap $findings findings"
        [[ $line == *": pass" ]] || verdict=FAIL
    else
        sqlmap="sqlmap no verdict"    # sqlmap.sh stopped before its last line
        verdict=FAIL
    fi
fi

echo "security: $passed passed, $failed failed, $sqlmap: $verdict"
[ "$verdict" = pass ]
