# The hash chain of qr_event.qr_code_events against an independent implementation: a few
# hundred random events over 50 QR codes are inserted with hash NULL, and every hash and
# the digest are recomputed here in Perl (Digest::SHA) from the encoding v1 that README.md
# documents, built from the columns as psql prints them. Then each kind of tampering by a
# superuser, undone afterwards, must be reported by verify_audit: single-byte changes of
# payload, gate, hash and prev_hash, a deleted middle event, swapped seq values, a forged
# event put in the middle of a chain, and - only through the saved digest - a deleted chain,
# a truncated tail and TRUNCATE. Finally verify_audit is timed over 200,000 events and
# statement_timeout must cancel it (57014).
# QR_AUDIT_SEED=<0..1> replays a run. Uses PGHOST/PGPORT/PGUSER; its own scratch databases.
use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use Encode qw(encode);
use JSON::PP ();
use Time::HiRes qw(time);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql literal scratch_database);

$ENV{PGCLIENTENCODING} = 'UTF8';
my $codes = 50;
my $seed = $ENV{QR_AUDIT_SEED} // sprintf('%.6f', rand());
note "QR_AUDIT_SEED=$seed";
END { diag "replay with QR_AUDIT_SEED=$seed" if defined $seed && !Test::More->builder->is_passing; }

my $json = JSON::PP->new->utf8;
my @fields = qw(seq event_id qr_code_id version type payload actor gate device
                occurred_at recorded_at prev_hash);

my $db = scratch_database('qr_t_audit');
psql($db, 'CREATE EXTENSION qr_event');

# One account, event and guest; 50 codes with 1 to 12 events each, inserted version by
# version with hash NULL, in a time zone far from UTC. Text columns get NULLs, empty
# strings, separators, newlines and non-ASCII letters; timestamps random microseconds.
my $setup = <<'SQL';
SELECT setseed(:seed);
SET TimeZone = 'Asia/Kathmandu';
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('tamper@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Tamper');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
SELECT id, 'Tamper gala', '2030-06-01 18:00+00', '2030-06-02 02:00+00' FROM qr_event.accounts;
INSERT INTO qr_event.guests (event_id, first_name) SELECT id, 'Guest' FROM qr_event.events;
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
SELECT g.event_id, g.id, 'tamper_token_' || lpad(i::text, 12, '0')
FROM qr_event.guests g, generate_series(1, :codes) AS i;
CREATE TABLE tamper_plan AS
SELECT c.id AS qr_code_id, c.event_id, 1 + floor(random() * 12)::int AS versions
FROM qr_event.qr_codes c ORDER BY c.id;
CREATE FUNCTION pick(options text[]) RETURNS text LANGUAGE sql VOLATILE AS
    $$ SELECT options[1 + floor(random() * array_length(options, 1))::int] $$;
DO $$
BEGIN
    FOR v IN 1 .. 12 LOOP
        INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, actor, gate,
                                             device, occurred_at)
        SELECT p.event_id, p.qr_code_id, v,
               CASE WHEN v = 1 THEN 'issued' ELSE pick('{scan_accepted,scan_rejected,revoked,reissued}') END,
               jsonb_build_object('note', pick(ARRAY['ok', 'Zoë ist da', E'tab\there', 'quote " and \ backslash',
                                                     E'line\nbreak', '日本語']),
                                  'n', floor(random() * 1000)::int, 'v', v)
               || CASE WHEN random() < 0.3 THEN '{"nested": {"a": [1, 2.50, null, true]}}'::jsonb ELSE '{}' END,
               pick(ARRAY[NULL, '', 'account:7', 'a:b|c']),
               pick(ARRAY[NULL, '', 'North', 'Süd', E'two\nlines', 'gate:1:x']),
               pick(ARRAY[NULL, '', 'scanner-1', 'ß-device']),
               timestamptz '2030-06-01 18:00+00' + random() * interval '400 days'
                   - random() * interval '30 years'
        FROM tamper_plan p WHERE p.versions >= v
        ORDER BY random();
    END LOOP;
END
$$;
SQL
$setup =~ s/:seed/$seed/;
$setup =~ s/:codes/$codes/;
psql($db, $setup);

my $events = psql($db, 'SELECT count(*) FROM qr_event.qr_code_events');
cmp_ok $events, '>=', 150, "$events events over $codes codes";

# Every event as JSON: ids as text, payload as jsonb text, timestamps in UTC, hashes in hex.
sub fetch_events {
    my $rows = psql($db, <<'SQL');
SELECT coalesce(json_agg(json_build_object(
    'seq', seq::text, 'event_id', event_id::text, 'qr_code_id', qr_code_id::text,
    'version', version::text, 'type', type, 'payload', payload::text, 'actor', actor,
    'gate', gate, 'device', device,
    'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'prev_hash', encode(prev_hash, 'hex'), 'hash', encode(hash, 'hex'),
    'db_encoding', encode(qr_event.audit_encode(e), 'hex')) ORDER BY seq), '[]')
FROM qr_event.qr_code_events e
SQL
    return @{ $json->decode($rows) };
}

# The encoding v1 of an event, as UTF-8 bytes.
sub encoding_v1 {
    my ($e) = @_;
    my $out = "qr_event/audit/v1\n";
    for my $f (@fields) {
        if (!defined $e->{$f}) {
            $out .= "$f:-\n";
            next;
        }
        my $value = encode('UTF-8', $e->{$f});
        $out .= "$f:" . length($value) . ":$value\n";
    }
    return $out;
}

# The digest as of up_to: each code's event of the highest version with seq <= up_to.
sub digest_of {
    my ($up_to, @rows) = @_;
    my %head;
    for my $e (grep { $_->{seq} <= $up_to } @rows) {
        my $h = $head{ $e->{qr_code_id} };
        $head{ $e->{qr_code_id} } = $e if !$h || $e->{version} > $h->{version};
    }
    my $text = join '', map { "$_->{qr_code_id}:$_->{version}:$_->{hash}\n" }
        map { $head{$_} } sort { $a <=> $b } keys %head;
    return (sha256_hex($text), scalar(keys %head), scalar(grep { $_->{seq} <= $up_to } @rows));
}

my @rows = fetch_events();
is scalar(@rows), $events, 'every event fetched';

my (@bad_hash, @bad_encoding, @bad_link);
my %by_version = map { ("$_->{qr_code_id}/$_->{version}" => $_) } @rows;
for my $e (@rows) {
    my $enc = encoding_v1($e);
    push @bad_hash, $e->{seq} if sha256_hex($enc) ne $e->{hash};
    push @bad_encoding, $e->{seq} if unpack('H*', $enc) ne $e->{db_encoding};
    my $prev = $by_version{ "$e->{qr_code_id}/" . ($e->{version} - 1) };
    my $want = $e->{version} == 1 ? undef : $prev && $prev->{hash};
    push @bad_link, $e->{seq} if ($e->{prev_hash} // '') ne ($want // '') || ($e->{version} > 1 && !$want);
}
is_deeply \@bad_hash, [], 'every hash equals SHA-256 of the encoding built in Perl';
is_deeply \@bad_encoding, [], 'audit_encode gives the same bytes as the Perl encoding';
is_deeply \@bad_link, [], 'every prev_hash is the hash of the previous version (none on version 1)';
ok((grep { defined $_->{gate} && $_->{gate} =~ /\n/ } @rows) && (grep { ($_->{device} // 'x') eq '' } @rows)
    && (grep { !defined $_->{actor} } @rows) && (grep { $_->{payload} =~ /\x{65e5}/ } @rows),
    'the events include newlines, empty strings, NULLs and non-ASCII text');

my $max_seq = $rows[-1]{seq};
my $mid_seq = $rows[ int(@rows / 2) ]{seq};
for my $up_to ($max_seq, $mid_seq) {
    my ($digest, $chains, $count) = digest_of($up_to, @rows);
    is psql($db, "SELECT digest || ' ' || up_to_seq || ' ' || chains || ' ' || events FROM qr_event.audit_digest($up_to)"),
        "$digest $up_to $chains $count", "audit_digest($up_to) equals the digest computed in Perl";
}
my ($digest_now) = digest_of($max_seq, @rows);
is psql($db, 'SELECT digest || up_to_seq FROM qr_event.audit_digest()'), "$digest_now$max_seq",
    'audit_digest() is as of the greatest seq';
is psql($db, 'SELECT count(*) FROM qr_event.verify_audit()'), 0, 'verify_audit finds no problem';

# Runs $sql as the superuser in a transaction that is rolled back, and returns what
# verify_audit (with the saved digest, when given) reports then, as "seq code version problem".
sub problems_after {
    my ($sql, $with_digest) = @_;
    my $args = $with_digest ? literal($digest_now) . ", $max_seq" : '';
    my $out = psql($db, "BEGIN; $sql; "
        . "SELECT coalesce(string_agg(concat_ws(' ', coalesce(seq::text, '-'), coalesce(qr_code_id::text, '-'), "
        . "coalesce(version::text, '-'), problem), E'\\n'), '') FROM qr_event.verify_audit($args); ROLLBACK");
    return [ split /\n/, $out ];
}

# events with a successor in their chain, and last events of chains of 3 or more
my @middle = grep { $by_version{"$_->{qr_code_id}/" . ($_->{version} + 1)} && $_->{version} > 1 } @rows;
my ($m1, $m2, $m3) = @middle[0, int(@middle / 2), -1];
my $next = sub { my ($e) = @_; $by_version{"$e->{qr_code_id}/" . ($e->{version} + 1)} };
my $row_of = sub { my ($e) = @_; "$e->{seq} $e->{qr_code_id} $e->{version}" };
my $where = sub { my ($e) = @_; "qr_code_id = $e->{qr_code_id} AND version = $e->{version}" };

my ($with_gate) = grep { defined $_->{gate} && length $_->{gate} } @middle;
is_deeply problems_after(
    "UPDATE qr_event.qr_code_events SET payload = jsonb_set(payload, '{n}', to_jsonb((payload->>'n')::int # 1)) WHERE "
        . $where->($m1)),
    [ $row_of->($m1) . ' hash mismatch' ], 'a one-byte change of a payload: hash mismatch';
is_deeply problems_after(
    "UPDATE qr_event.qr_code_events SET gate = overlay(gate placing (CASE WHEN left(gate, 1) = 'X' THEN 'Y' ELSE 'X' END) "
        . "from 1 for 1) WHERE " . $where->($with_gate)),
    [ $row_of->($with_gate) . ' hash mismatch' ], 'a one-byte change of a gate: hash mismatch';
is_deeply problems_after(
    'UPDATE qr_event.qr_code_events SET hash = set_byte(hash, 7, get_byte(hash, 7) # 1) WHERE ' . $where->($m2)),
    [ $row_of->($m2) . ' hash mismatch', $row_of->($next->($m2)) . ' broken link' ],
    'a one-byte change of a hash: hash mismatch, and the next event\'s link breaks';
is_deeply problems_after(
    'UPDATE qr_event.qr_code_events SET prev_hash = set_byte(prev_hash, 31, get_byte(prev_hash, 31) # 128) WHERE '
        . $where->($m3)),
    [ $row_of->($m3) . ' hash mismatch', $row_of->($m3) . ' broken link' ],
    'a one-byte change of a prev_hash: hash mismatch and broken link';
is_deeply problems_after('DELETE FROM qr_event.qr_code_events WHERE ' . $where->($m2)),
    [ $row_of->($next->($m2)) . ' broken link', $row_of->($next->($m2)) . ' version gap' ],
    'a deleted middle event: broken link and version gap after it';

# swapped seq values (seq is GENERATED ALWAYS: the two rows are deleted and put back)
my ($s1, $s2) = ($m1, $m3);
my $cols = 'event_id, qr_code_id, version, type, payload, actor, gate, device, occurred_at, recorded_at, txid, prev_hash, hash';
is_deeply [ sort @{ problems_after(
    "CREATE TEMP TABLE swap ON COMMIT DROP AS SELECT * FROM qr_event.qr_code_events WHERE seq IN ($s1->{seq}, $s2->{seq}); "
        . "DELETE FROM qr_event.qr_code_events WHERE seq IN ($s1->{seq}, $s2->{seq}); "
        . "INSERT INTO qr_event.qr_code_events OVERRIDING SYSTEM VALUE "
        . "SELECT $s1->{seq} + $s2->{seq} - seq, $cols FROM swap") } ],
    [ sort "$s2->{seq} $s1->{qr_code_id} $s1->{version} hash mismatch", "$s1->{seq} $s2->{qr_code_id} $s2->{version} hash mismatch" ],
    'two events with their seq values swapped: hash mismatch on both';

# a forged event put in the middle of a chain: the later versions are shifted up by one
my %count;
$count{ $_->{qr_code_id} }++ for @rows;
my ($long_code) = sort { $count{$b} <=> $count{$a} || $a <=> $b } keys %count;
my $long = { code => $long_code, versions => $count{$long_code} };
cmp_ok $long->{versions}, '>=', 4, "code $long->{code} has $long->{versions} events";
my $k = 3;
my $shift = "DO \$\$ BEGIN FOR v IN REVERSE $long->{versions} .. $k LOOP "
    . "UPDATE qr_event.qr_code_events SET version = v + 1 WHERE qr_code_id = $long->{code} AND version = v; "
    . "END LOOP; END \$\$; "
    . "INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, occurred_at) "
    . "SELECT event_id, qr_code_id, $k, 'scan_accepted', '{\"forged\": true}', occurred_at FROM qr_event.qr_code_events "
    . "WHERE qr_code_id = $long->{code} AND version = " . ($k - 1);
my @shifted = sort { $a->{version} <=> $b->{version} } grep { $_->{qr_code_id} == $long->{code} && $_->{version} >= $k } @rows;
is_deeply problems_after($shift), [
    map({ ("$_->{seq} $long->{code} " . ($_->{version} + 1) . ' hash mismatch',
           $_->{version} == $k ? ("$_->{seq} $long->{code} " . ($_->{version} + 1) . ' broken link') : ()) } @shifted) ],
    'a forged event in the middle of a chain: the shifted events mismatch and the first of them no longer links';
# a careful forger also rewrites the links and hashes of every later event: the chain is
# consistent again, and only the saved digest tells
my $rehash = "; DO \$\$ BEGIN FOR v IN " . ($k + 1) . " .. " . ($long->{versions} + 1) . " LOOP "
    . "UPDATE qr_event.qr_code_events e SET prev_hash = p.hash FROM qr_event.qr_code_events p "
    . "WHERE e.qr_code_id = $long->{code} AND e.version = v AND p.qr_code_id = e.qr_code_id AND p.version = v - 1; "
    . "UPDATE qr_event.qr_code_events e SET hash = qr_event.audit_hash(e) WHERE e.qr_code_id = $long->{code} AND e.version = v; "
    . "END LOOP; END \$\$";
is_deeply problems_after($shift . $rehash), [], '... rewriting every later hash hides it from the chain';
is_deeply problems_after($shift . $rehash, 1),
    [ "- - - digest mismatch: events up to seq $max_seq changed, were deleted or were truncated" ],
    '... but not from the saved digest';

# what leaves every chain intact: only the saved digest tells
my $mismatch = [ "- - - digest mismatch: events up to seq $max_seq changed, were deleted or were truncated" ];
my $whole = "DELETE FROM qr_event.qr_code_events WHERE qr_code_id = $m2->{qr_code_id}";
my ($tail) = grep { !$next->($_) && $_->{version} >= 3 } @rows;
my $cut = "DELETE FROM qr_event.qr_code_events WHERE qr_code_id = $tail->{qr_code_id} AND version >= $tail->{version} - 1";
for my $case ([ 'a deleted chain', $whole ], [ 'a truncated tail', $cut ],
              [ 'TRUNCATE', 'TRUNCATE qr_event.qr_code_events' ]) {
    my ($what, $sql) = @$case;
    is_deeply problems_after($sql), [], "$what: no chain problem";
    is_deeply problems_after($sql, 1), $mismatch, "$what: the saved digest does not match";
}
is psql($db, 'BEGIN; TRUNCATE qr_event.qr_code_events; '
        . "SELECT digest || ' ' || chains || ' ' || events FROM qr_event.audit_digest($max_seq); ROLLBACK"),
    sha256_hex('') . ' 0 0', 'after TRUNCATE no chain is left (the digest of nothing)';

# everything was undone
is psql($db, 'SELECT count(*) FROM qr_event.verify_audit(' . literal($digest_now) . ", $max_seq)"), 0,
    'every tampering was rolled back: the store verifies against its saved digest';
my @after = fetch_events();
is_deeply [ map { $_->{hash} } @after ], [ map { $_->{hash} } @rows ], 'and holds the same events';

# 200,000 events: 20,000 codes x 10 versions, one INSERT per version with the trigger
# computing every hash
my $big = scratch_database('qr_t_audit_big');
psql($big, 'CREATE EXTENSION qr_event');
my $t0 = time;
psql($big, <<'SQL');
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('big@example.com', '$pbkdf2-sha256$i=1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Big');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
SELECT id, 'Big gala', '2030-06-01 18:00+00', '2030-06-02 02:00+00' FROM qr_event.accounts;
INSERT INTO qr_event.guests (event_id, first_name) SELECT id, 'Guest' FROM qr_event.events;
INSERT INTO qr_event.qr_codes (event_id, guest_id, token)
SELECT g.event_id, g.id, 'big_token_' || lpad(i::text, 16, '0') FROM qr_event.guests g, generate_series(1, 20000) AS i;
SQL
for my $v (1 .. 10) {
    my $type = $v == 1 ? 'issued' : 'scan_accepted';
    psql($big, "INSERT INTO qr_event.qr_code_events (event_id, qr_code_id, version, type, payload, gate, device, occurred_at) "
        . "SELECT event_id, id, $v, '$type', jsonb_build_object('n', id, 'v', $v), 'Gate ' || (id % 4), 'scanner-' || (id % 9), "
        . "timestamptz '2030-06-01 18:00+00' + $v * interval '1 minute' FROM qr_event.qr_codes");
}
my $insert_s = time - $t0;
psql($big, 'VACUUM ANALYZE qr_event.qr_code_events');
is psql($big, 'SELECT count(*) FROM qr_event.qr_code_events'), 200000, '200,000 events';
$t0 = time;
is psql($big, 'SELECT count(*) FROM qr_event.verify_audit()'), 0, 'verify_audit over 200,000 events finds no problem';
my $verify_s = time - $t0;
$t0 = time;
my ($big_digest, $big_up_to) = split / /, psql($big, "SELECT digest || ' ' || up_to_seq FROM qr_event.audit_digest()");
my $digest_s = time - $t0;
$t0 = time;
is psql($big, 'SELECT count(*) FROM qr_event.verify_audit(' . literal($big_digest) . ", $big_up_to)"), 0,
    '... and with its saved digest';
my $verify_digest_s = time - $t0;
diag sprintf 'audit chain, 200,000 events: inserts with the trigger %.2f s; verify_audit %.2f s '
    . '(%.0f events/s), with a saved digest %.2f s; audit_digest %.2f s',
    $insert_s, $verify_s, 200000 / $verify_s, $verify_digest_s, $digest_s;

# statement_timeout cancels a walk in progress
my $cancel = qx{psql -X -q -v VERBOSITY=sqlstate -d $big -c "SET statement_timeout = '50ms'" -c 'SELECT count(*) FROM qr_event.verify_audit()' 2>&1};
like $cancel, qr/ERROR:\s+57014/, 'statement_timeout = 50ms cancels verify_audit (57014)';

done_testing();
