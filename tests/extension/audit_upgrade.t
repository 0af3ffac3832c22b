# The upgrade to 0.4.0 seals the audit events recorded before it: events written under
# 0.3.0 with hashes of no defined encoding (as the 0.3.0 demo loader wrote them) verify
# after ALTER EXTENSION qr_event UPDATE, every code's head_hash is its last event's hash,
# and the commands continue the sealed chains. Uses PGHOST/PGPORT/PGUSER; its own
# scratch database.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql scratch_database);

my $db = scratch_database('qr_t_audit_upgrade');
psql($db, q{CREATE EXTENSION qr_event VERSION '0.3.0'});
psql($db, <<'SQL');
SET qr_event.password_iterations = 1000;
WITH a AS (SELECT qr_event.create_account('seal@example.com', 'correct horse battery', 'Seal') AS id),
     e AS (INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
           SELECT id, 'seal', now() - interval '1 hour', now() + interval '5 hours' FROM a RETURNING id)
INSERT INTO qr_event.guests (event_id, first_name) SELECT e.id, 'G' || i FROM e, generate_series(1, 20) AS i;
INSERT INTO qr_event.qr_codes (event_id, guest_id, token, status, version)
SELECT event_id, id, 'seal-token-' || lpad(id::text, 12, '0'), 'active', 1 + id % 3 FROM qr_event.guests;
-- versions 1..3 with made-up hashes, linked the way the old loader liked
INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, gate, occurred_at, prev_hash, hash)
SELECT c.event_id, c.id, v, CASE v WHEN 1 THEN 'issued' ELSE 'scan_rejected' END,
       CASE v WHEN 1 THEN jsonb_build_object('guest_id', c.guest_id) ELSE '{"reason": "already_used"}' END,
       CASE v WHEN 1 THEN NULL ELSE 'North' END, now(),
       CASE v WHEN 1 THEN NULL ELSE sha256(('old' || c.id || ':' || (v - 1))::bytea) END,
       sha256(('old' || c.id || ':' || v)::bytea)
FROM qr_event.qr_codes c, generate_series(1, c.version) AS v
ORDER BY c.id, v;
SQL
my $events = psql($db, 'SELECT count(*) FROM qr_event.qr_code_events');
ok $events > 20, "$events events recorded under 0.3.0";

psql($db, q{ALTER EXTENSION qr_event UPDATE TO '0.4.0'});
is psql($db, 'SELECT count(*) FROM qr_event.verify_audit()'), 0, 'after the upgrade every chain verifies';
is psql($db, 'SELECT count(*) FROM qr_event.qr_code_events'), $events, 'no event added or removed';
is psql($db, q{SELECT count(*) FROM qr_event.qr_codes c
               WHERE c.head_hash IS DISTINCT FROM (SELECT e.hash FROM qr_event.qr_code_events e
                   WHERE e.qr_code_id = c.id ORDER BY e.version DESC LIMIT 1)}), 0,
    'every head_hash is the hash of its last event';
is psql($db, q{SELECT count(*) FROM qr_event.qr_code_events WHERE hash = sha256(('old' || qr_code_id || ':' || version)::bytea)}),
    0, 'no made-up hash is left';

# the commands go on from the sealed heads
my $token = psql($db, q{SELECT token FROM qr_event.qr_codes ORDER BY id LIMIT 1});
is psql($db, qq{SELECT reason FROM qr_event.scan_qr('$token', 'North')}), 'accepted', 'a sealed code is scanned';
is psql($db, 'SELECT count(*) FROM qr_event.verify_audit()'), 0, 'the extended chain verifies';
# the old loader's rows differ from the replay (updated_at, issued_at): one rebuild
# makes the projection exact, a second one finds nothing to change
like psql($db, 'SELECT qr_event.rebuild_qr_projection()'), qr/^\d+\z/, 'the projection is rebuilt from the sealed chains';
is psql($db, 'SELECT qr_event.rebuild_qr_projection()'), 0, 'a second rebuild changes nothing';
is psql($db, qq{SELECT status FROM qr_event.qr_codes WHERE token = '$token'}), 'used', 'the scan is in the projection';

done_testing;
