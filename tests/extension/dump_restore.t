# pg_dump / pg_restore round trip of a database holding the demo event: every table's
# rows come back identical, and the identity sequences continue after the restored ids;
# the cursor secret is not carried over.
use strict;
use warnings;
use File::Temp ();
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql scratch_database);

my $root = $ENV{QR_TEST_ROOT} // '.';
my @tables = qw(accounts events event_staff families guests games game_participations
                qr_codes qr_code_events);

# A fingerprint of every row of a table, independent of physical order.
sub fingerprint {
    my ($db, $table) = @_;
    return psql($db, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' "
                   . "ORDER BY t::text)), '') FROM qr_event.$table t");
}

my $src = scratch_database('qr_t_dump_src');
psql($src, 'CREATE EXTENSION qr_event');
is system("psql -X -q -v ON_ERROR_STOP=1 -d $src -f $root/tests/fixtures/demo.sql >/dev/null"), 0,
    'demo data loads';

my $dump = File::Temp->new(SUFFIX => '.dump');
is system('pg_dump', '-Fc', '-f', $dump->filename, $src), 0, 'pg_dump -Fc succeeds';
my $dst = scratch_database('qr_t_dump_dst');
is system("pg_restore --exit-on-error -d $dst " . $dump->filename . ' 2>&1'), 0,
    'pg_restore succeeds';

is psql($dst, "SELECT extversion FROM pg_extension WHERE extname = 'qr_event'"),
    psql($src, "SELECT extversion FROM pg_extension WHERE extname = 'qr_event'"),
    'the extension comes back at the same version';
for my $table (@tables) {
    my $before = fingerprint($src, $table);
    cmp_ok((split /:/, $before)[0], '>', 0, "$table has demo rows");
    is fingerprint($dst, $table), $before, "$table round-trips row for row";
}

# New rows after the restore get fresh ids, not ones already taken.
my $event = psql($dst, 'SELECT min(id) FROM qr_event.events');
my $max_family = psql($dst, 'SELECT max(id) FROM qr_event.families');
my $new_family = psql($dst, "INSERT INTO qr_event.families (event_id, name) "
                         . "VALUES ($event, 'After restore') RETURNING id");
cmp_ok $new_family, '>', $max_family, 'the family sequence continues after restored ids';
my $max_guest = psql($dst, 'SELECT max(id) FROM qr_event.guests');
my $new_guest = psql($dst, "INSERT INTO qr_event.guests (event_id, first_name, last_name) "
                        . "VALUES ($event, 'New', 'Guest') RETURNING id");
cmp_ok $new_guest, '>', $max_guest, 'the guest sequence continues after restored ids';
my $max_seq = psql($dst, 'SELECT max(seq) FROM qr_event.qr_code_events');
my $next_seq = psql($dst, "SELECT nextval(pg_get_serial_sequence('qr_event.qr_code_events', 'seq'))");
cmp_ok $next_seq, '>', $max_seq, 'the event-store sequence continues after restored rows';

# The cursor secret is not dumped: the restored database signs cursors with a fresh one,
# so cursors handed out before the dump are refused there.
is psql($dst, 'SELECT count(*) FROM qr_event.cursor_keys'), 1, 'the restored database has a cursor secret';
isnt psql($dst, 'SELECT md5(secret) FROM qr_event.cursor_keys'),
    psql($src, 'SELECT md5(secret) FROM qr_event.cursor_keys'), 'a fresh one, not the dumped one';
my $cursor = psql($src, q{SELECT next_cursor FROM qr_event.paginate(NULL::qr_event.guests, '{id}', 5)});
like $cursor, qr/^[A-Za-z0-9_-]+\z/, 'the source database hands out a cursor';
my $refused = `psql -X -q -t -A -d $dst -c "SELECT qr_event.paginate(NULL::qr_event.guests, '{id}', 5, '$cursor')" 2>&1`;
like $refused, qr/invalid cursor/, 'the restored database refuses it';

done_testing;
