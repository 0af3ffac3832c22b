# Exactly once at the door, under load: 8 clients each scan every one of 2,000 QR codes
# in their own random order, one transaction per scan, as eight doors would. Every code
# is accepted exactly once (accepted scans = distinct codes, one scan_accepted event per
# code), every other scan is refused as already_used, each chain holds the issued event
# and one event per scan with versions 1..9 and no fork, and verify_audit finds nothing.
# Uses PGHOST/PGPORT/PGUSER; its own scratch database.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql scratch_database);

my $codes = 2000;
my $clients = 8;

my $db = scratch_database('qr_t_door_stress');
psql($db, 'CREATE EXTENSION qr_event');
psql($db, <<"SQL");
SET qr_event.password_iterations = 1000;
CREATE TABLE stress_tokens (n integer PRIMARY KEY, token text NOT NULL);
CREATE TABLE stress_results (client integer, token text, accepted boolean, reason text);
WITH a AS (SELECT qr_event.create_account('stress\@example.com', 'correct horse battery', 'S') AS id),
     e AS (INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
           SELECT id, 'stress', now() - interval '1 hour', now() + interval '5 hours' FROM a RETURNING id)
INSERT INTO qr_event.guests (event_id, first_name) SELECT e.id, 'G' || i FROM e, generate_series(1, $codes) AS i;
INSERT INTO stress_tokens SELECT row_number() OVER (ORDER BY id), qr_event.issue_qr(id, 'stress') FROM qr_event.guests;
SQL
is psql($db, 'SELECT count(*) FROM stress_tokens'), $codes, "$codes codes issued";

# Each client: every code once, in its own order, committing after each scan.
my $started = time;
my @pids;
for my $client (1 .. $clients) {
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my $gate = "gate-$client";
        exec 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-c', <<"SQL" or die "exec psql: $!\n";
DO \$\$
DECLARE
    t text;
    r record;
BEGIN
    FOR t IN SELECT token FROM stress_tokens ORDER BY random() LOOP
        SELECT * INTO r FROM qr_event.scan_qr(t, '$gate', 'device-$client');
        INSERT INTO stress_results VALUES ($client, t, r.accepted, r.reason);
        COMMIT;
    END LOOP;
END
\$\$;
SQL
    }
    push @pids, $pid;
}
my $failed = 0;
for my $pid (@pids) {
    waitpid $pid, 0;
    $failed++ if $?;
}
my $seconds = time - $started;
is $failed, 0, "all $clients clients finished without an error";
diag sprintf '%d scans by %d clients in %.1f s (%.0f scans/s)', $codes * $clients, $clients, $seconds,
    $codes * $clients / $seconds;

is psql($db, 'SELECT count(*) FROM stress_results'), $codes * $clients, 'every scan answered';
is psql($db, 'SELECT count(*) FROM stress_results WHERE accepted'), $codes, 'accepted scans = codes';
is psql($db, 'SELECT count(DISTINCT token) FROM stress_results WHERE accepted'), $codes,
    'accepted scans = distinct codes';
is psql($db, q{SELECT count(*) FROM stress_results WHERE NOT accepted AND reason <> 'already_used'}), 0,
    'every other scan refused as already_used';
is psql($db, q{SELECT count(*) FROM (SELECT qr_code_id FROM qr_event.qr_code_events WHERE type = 'scan_accepted'
                GROUP BY qr_code_id HAVING count(*) <> 1) AS x}), 0,
    'exactly one scan_accepted event per code';
is psql($db, q{SELECT count(*) FROM qr_event.qr_code_events WHERE type = 'scan_accepted'}), $codes,
    'as many scan_accepted events as codes';
is psql($db, q{SELECT count(*) FROM (SELECT qr_code_id FROM qr_event.qr_code_events GROUP BY qr_code_id
                HAVING count(*) <> } . ($clients + 1) . q{ OR min(version) <> 1 OR max(version) <> } . ($clients + 1)
                . q{) AS x}), 0, 'each chain: the issued event and one per scan, versions without gaps';
is psql($db, q{SELECT count(*) FROM qr_event.qr_code_events e JOIN qr_event.qr_code_events p
                ON p.qr_code_id = e.qr_code_id AND p.version = e.version - 1
                WHERE e.prev_hash IS DISTINCT FROM p.hash}), 0, 'every event links to its predecessor: no fork';
is psql($db, q{SELECT count(*) FROM qr_event.qr_codes WHERE status <> 'used' OR version <> } . ($clients + 1)), 0,
    'the projection: every code used, at the last version';
is psql($db, 'SELECT count(*) FROM qr_event.verify_audit()'), 0, 'verify_audit finds nothing';
is psql($db, q{SELECT count(*) FROM stress_results r JOIN qr_event.qr_codes c ON c.token = r.token
                WHERE r.accepted AND c.first_scan_gate <> 'gate-' || r.client}), 0,
    'the first scan recorded is the accepted one';
is psql($db, 'SELECT qr_event.rebuild_qr_projection()'), 0, 'the projection equals the replay of the events';

done_testing;
