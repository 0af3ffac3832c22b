# Audit section of make bench (sourced by tests/bench/run.sh; PG* variables point at
# the bench database). Door scans through qr_event.scan_qr (row lock, hash chain and
# projection) beside plain inserts of the same event rows with no hash, no projection
# and no trigger: into a table shaped like qr_code_events (its columns, checks and
# indexes) and into a bare one (a primary key only), at 1 and 8 clients in alternating
# rounds; then verify_audit over 1,000,000 events.

# Transactions per second of the pgbench script $1 with $2 clients for $3 seconds.
bench_script_tps() {
    local script=$1 clients=$2 seconds=$3
    "$QR_PGBIN/pgbench" -n -c "$clients" -j "$clients" -T "$seconds" -f "$script" 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

bench_audit() {
    local codes=${QR_BENCH_AUDIT_CODES:-50000} events=${QR_BENCH_AUDIT_EVENTS:-1000000}
    local scan_sql plain_sql bare_sql clients round scans plains bares ratios bratios
    local -A med_scan=() med_plain=() med_bare=() med_ratio=() med_bratio=() all_ratios=()

    echo "bench: issuing $codes QR codes through qr_event.issue_qr" >&2
    psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET qr_event.password_iterations = 1000;
WITH a AS (SELECT qr_event.create_account('audit-bench@bench.qr-event.test', 'bench-password', 'Audit') AS id),
     e AS (INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
           SELECT id, 'Audit Bench', now() - interval '1 hour', now() + interval '1 day' FROM a RETURNING id)
INSERT INTO qr_event.guests (event_id, first_name) SELECT e.id, 'Door ' || i FROM e, generate_series(1, $codes) AS i;
\\o /dev/null
SELECT count(qr_event.issue_qr(g.id, 'bench'))
FROM qr_event.guests g JOIN qr_event.events e ON e.id = g.event_id AND e.name = 'Audit Bench';
\\o
-- tokens the scripts can name: n -> the token of the n-th code (set by the
-- superuser running the bench; the chains do not contain tokens)
UPDATE qr_event.qr_codes c SET token = 'bench-door-token-' || lpad(n::text, 12, '0')
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM qr_event.qr_codes) AS o WHERE o.id = c.id;
-- the baselines: the same event rows with no hash, no projection, no trigger;
-- shaped like qr_code_events (its checks and indexes), and bare
CREATE TABLE bench_plain_events (LIKE qr_event.qr_code_events
    INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING IDENTITY);
ALTER TABLE bench_plain_events DROP COLUMN prev_hash, DROP COLUMN hash;
CREATE TABLE bench_bare_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id bigint NOT NULL, qr_code_id bigint NOT NULL,
    version integer NOT NULL, type text NOT NULL, payload jsonb NOT NULL DEFAULT '{}', actor text, gate text,
    device text, occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp());
VACUUM ANALYZE;
SQL
    scan_sql=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    plain_sql=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    bare_sql=$(mktemp /tmp/qr_bench.XXXXXX.sql)
    cat >"$scan_sql" <<SQL
\set n random(1, $codes)
SELECT * FROM qr_event.scan_qr('bench-door-token-' || lpad(:n::text, 12, '0'), 'gate-' || :client_id, 'scanner');
SQL
    # a fresh (qr_code_id, version) per row, as a scan's event has
    cat >"$plain_sql" <<SQL
\set n random(1, $codes)
INSERT INTO bench_plain_events (event_id, qr_code_id, version, type, payload, gate, device, occurred_at)
VALUES (1, :n, 1 + (random() * 2000000000)::integer, 'scan_accepted', '{}', 'gate-' || :client_id, 'scanner', now());
SQL
    cat >"$bare_sql" <<SQL
\set n random(1, $codes)
INSERT INTO bench_bare_events (event_id, qr_code_id, version, type, payload, gate, device, occurred_at)
VALUES (1, :n, 1, 'scan_accepted', '{}', 'gate-' || :client_id, 'scanner', now());
SQL
    echo "bench: scans vs plain inserts (3 alternating rounds per client count)" >&2
    for clients in 1 8; do
        scans=() plains=() bares=() ratios=() bratios=()
        for round in 1 2 3; do
            scans+=("$(bench_script_tps "$scan_sql" "$clients" 10)")
            plains+=("$(bench_script_tps "$plain_sql" "$clients" 10)")
            bares+=("$(bench_script_tps "$bare_sql" "$clients" 10)")
            ratios+=("$(awk -v a="${plains[-1]}" -v b="${scans[-1]}" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')")
            bratios+=("$(awk -v a="${bares[-1]}" -v b="${scans[-1]}" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')")
        done
        med_scan[$clients]=$(bench_median "${scans[@]}")
        med_plain[$clients]=$(bench_median "${plains[@]}")
        med_bare[$clients]=$(bench_median "${bares[@]}")
        med_ratio[$clients]=$(bench_median "${ratios[@]}")
        med_bratio[$clients]=$(bench_median "${bratios[@]}")
        all_ratios[$clients]="${ratios[*]}"
    done
    rm -f "$scan_sql" "$plain_sql" "$bare_sql"
    local scanned
    scanned=$(psql -X -At -c "SELECT count(*) FROM qr_event.qr_code_events WHERE type LIKE 'scan%'")
    echo
    echo "### door scans: qr_event.scan_qr (row lock, hash chain, projection) vs plain INSERTs of the event row (10 s per run, 3 alternating rounds; fsync off)"
    echo
    echo "| clients | plain insert, qr_code_events' shape (median) | plain insert, bare table (median) | scan_qr (median) | scan / plain, per round | median | scan / bare (median) |"
    echo "| ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    local -a figure scans_of
    for clients in 1 8; do
        echo "| $clients | ${med_plain[$clients]} tps | ${med_bare[$clients]} tps | ${med_scan[$clients]} tps | ${all_ratios[$clients]} | ${med_ratio[$clients]} | ${med_bratio[$clients]} |"
        scans_of=(desc="door scans (scan_qr), $clients client$([ "$clients" -eq 1 ] || echo s), median round"
                  measured="${med_scan[$clients]}" unit=tps ratio_of=measured/baseline)
        figure=("${scans_of[@]}" baseline_desc="plain INSERT, qr_code_events' shape"
                baseline="${med_plain[$clients]}" ratio="${med_ratio[$clients]}")
        bench_figure audit "scans-$clients-clients-vs-plain" "${figure[@]}"
        bench_figure audit "scans-$clients-clients-vs-bare" "${scans_of[@]}" baseline_desc="plain INSERT, bare table" \
            baseline="${med_bare[$clients]}" ratio="${med_bratio[$clients]}"
    done
    echo
    echo "$scanned scans on $codes codes (random codes: the first scan of a code is accepted, later ones refused as already_used; both append an event)."

    echo "bench: generating $events audit events for verify_audit" >&2
    local per_code=10 chain_codes
    chain_codes=$(( events / per_code ))
    psql -X -q -v ON_ERROR_STOP=1 <<SQL
\\echo '  codes: $chain_codes'
WITH e AS (SELECT id FROM qr_event.events WHERE name = 'Audit Bench'),
     g AS (INSERT INTO qr_event.guests (event_id, first_name)
           SELECT e.id, 'Chain ' || i FROM e, generate_series(1, $chain_codes) AS i RETURNING id, event_id)
INSERT INTO qr_event.qr_codes (event_id, guest_id, token, status, version, issued_at)
SELECT event_id, id, 'bench-chain-token-' || lpad(id::text, 12, '0'), 'active', $per_code, now() FROM g;
CREATE TEMP TABLE chain_codes AS
SELECT id, event_id FROM qr_event.qr_codes WHERE token LIKE 'bench-chain-token-%';
SQL
    local v
    for v in $(seq 1 $per_code); do
        echo "  events: version $v of $per_code" >&2
        psql -X -q -v ON_ERROR_STOP=1 -c "
            INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, gate, device, occurred_at)
            SELECT event_id, id, $v, CASE $v WHEN 1 THEN 'issued' ELSE 'scan_rejected' END,
                   CASE $v WHEN 1 THEN '{}'::jsonb ELSE '{\"reason\": \"already_used\"}'::jsonb END,
                   CASE $v WHEN 1 THEN NULL ELSE 'gate-' || ($v % 3) END, 'scanner', now()
            FROM qr_event.qr_codes WHERE token LIKE 'bench-chain-token-%' ORDER BY id"
    done
    psql -X -q -c 'VACUUM ANALYZE qr_event.qr_code_events'
    local total
    total=$(psql -X -At -c 'SELECT count(*) FROM qr_event.qr_code_events')
    echo "bench: timing verify_audit over $total events" >&2
    local runs=() ms broken cancelled
    for round in 1 2 3; do
        ms=$(psql -X -At -c '\timing on' -c 'SELECT count(*) FROM qr_event.verify_audit()' \
             | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        runs+=("$ms")
    done
    broken=$(psql -X -At -c 'SELECT count(*) FROM qr_event.verify_audit()')
    cancelled=$(psql -X -At -c "SET statement_timeout = '200ms'" -c 'SELECT count(*) FROM qr_event.verify_audit()' 2>&1 \
                | grep -c 'canceling statement due to statement timeout' || true)
    local median seconds honoured outcome=cancelled
    median=$(bench_median "${runs[@]}")
    seconds=$(awk -v m="$median" 'BEGIN { printf "%.2f", m / 1000 }')
    honoured=$(bench_met "$cancelled" '>=' 1)
    [ "$honoured" = yes ] || outcome="not cancelled"
    echo
    echo "### verify_audit over $total events ($chain_codes chains; median of 3 runs)"
    echo
    echo "| runs (ms) | median | broken links found | cancelled by statement_timeout = 200ms |"
    echo "| --- | ---: | ---: | --- |"
    echo "| ${runs[*]} | $seconds s | $broken | $( [ "$honoured" = yes ] && echo yes || echo NO ) |"
    echo
    bench_targets_header
    # figure: the 8 clients' scans beside plain inserts (the loop's last)
    bench_target audit target-scans-8-clients "${figure[@]}" \
        target="scans at 8 clients ≥ 50% of plain inserts into the events table without hash, projection, trigger (median round)" \
        met="$(bench_met "${med_ratio[8]}" '>=' 0.5)" shown="$(bench_percent "${med_ratio[8]}")"
    bench_target audit target-verify-time desc="verify_audit over $total events, median of 3 runs" \
        measured="$seconds" unit=s target="verify_audit of 1,000,000 events under 10 s" \
        met="$(bench_met "$median" '<' 10000)" shown="$seconds s"
    bench_target audit target-verify-timeout desc="verify_audit under statement_timeout = 200ms" \
        measured="$outcome" target="verify_audit honours statement_timeout" met="$honoured" shown="$outcome"
}
