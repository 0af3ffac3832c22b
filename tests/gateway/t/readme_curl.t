# The README's curl walk-through ("A walk through the API with curl") runs as written:
# the fenced sh block under that heading is extracted from README.md and run with
# bash -e against a gateway on a scratch database holding the demo event
# (tests/fixtures/demo.sql), as `make run` serves it. Any failed request stops the
# block (curl --fail-with-body), which fails this test; then the printed answers are
# checked: the two scans say accepted then already_used, the play is recorded, and the
# leaderboard lists the new guest.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use File::Temp ();
use Test::More;
use QRPg qw(psql scratch_database);
use QRTest qw(json start_gateway start_redis);

my $root = $ENV{QR_TEST_ROOT} // "$FindBin::Bin/../../..";
my $heading = '### A walk through the API with curl';

# --- the block, exactly as README.md has it ------------------------------------------
open my $fh, '<', "$root/README.md" or die "README.md: $!";
my ($state, @block) = ('before');
while (my $line = <$fh>) {
    chomp $line;
    if ($state eq 'before') { $state = 'heading' if $line eq $heading; next; }
    if ($state eq 'heading') {
        last if $line =~ /^#/;                 # the next heading: no block in the section
        $state = 'block' if $line eq '```sh';
        next;
    }
    if ($line eq '```') { $state = 'closed'; last; }
    push @block, $line;
}
close $fh;
is $state, 'closed', "README.md has a closed sh block under the walk-through heading"
    or BAIL_OUT('no walk-through block to run');
unlike join("\n", @block), qr/\bjq\b/, 'the walk-through needs no jq';

# --- the demo, as make run loads it, behind a gateway of its own ---------------------
my $db = scratch_database('qr_t_readme');
psql($db, 'CREATE EXTENSION qr_event');
my $demo_log = File::Temp->new(TEMPLATE => 'qr_demo.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp');
system("psql -X -q -v ON_ERROR_STOP=1 -d '$db' -f '$root/tests/fixtures/demo.sql' >"
       . $demo_log->filename . ' 2>&1') == 0
    or BAIL_OUT("loading the demo failed:\n" . do { local (@ARGV, $/) = ($demo_log->filename); <> });
(my $conninfo = $ENV{QR_TEST_DB}) =~ s/\bdbname=\S+/dbname=$db/ or die "no dbname in QR_TEST_DB";
# A Redis of its own: the demo's ids repeat those of other tests' databases, and rate
# limits are per client address.
my $redis = start_redis();
# With the default rate limits, as make run has them: the walk-through must fit in them.
my $gw = start_gateway(env => { QR_GATEWAY_DB => $conninfo, QR_GATEWAY_REDIS => $redis->address,
                                QR_GATEWAY_RATE_LIMITS => 'on' });

# --- run it --------------------------------------------------------------------------
my $script = File::Temp->new(TEMPLATE => 'qr_walk.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp',
                             SUFFIX => '.sh');
print {$script} join("\n", @block), "\n";
close $script;
my $out = File::Temp->new(TEMPLATE => 'qr_walk.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp',
                          SUFFIX => '.out');
{
    local $ENV{BASE} = $gw->url('');
    system('timeout 120 bash -e ' . $script->filename . ' >' . $out->filename . ' 2>&1');
}
my $status = $? >> 8;
my $output = do { local (@ARGV, $/) = ($out->filename); <> } // '';
is $status, 0, 'the block runs to its end with bash -e' or diag $output;

# --- what it printed -------------------------------------------------------------------
my @answers = grep { ref eq 'HASH' } map { json($_) } split /\n/, $output;
ok @answers >= 12, 'each command printed its JSON answer (' . scalar(@answers) . ')' or diag $output;
is scalar(grep { !$_->{success} } @answers), 0, 'every answer is a success';

my ($guest) = grep { ref $_->{data} eq 'HASH' && exists $_->{data}{first_name} } @answers;
ok $guest, 'a guest was added' or diag $output;
my $guest_id = $guest ? $guest->{data}{id} : -1;
my $name = $guest ? "$guest->{data}{first_name} $guest->{data}{last_name}" : '?';

my ($qr) = grep { ref $_->{data} eq 'HASH' && ($_->{data}{guest_id} // 0) == $guest_id
                  && exists $_->{data}{token} } @answers;
ok $qr, "$name got a QR code";

my @scans = grep { ref $_->{data} eq 'HASH' && exists $_->{data}{reason} } @answers;
is_deeply [map { $_->{data}{reason} } @scans], ['accepted', 'already_used'],
    'the two scans: accepted, then already_used';
is $scans[1]{data}{first_scan_gate}, $scans[0]{data}{first_scan_gate}, '... naming the first gate'
    if @scans == 2;

my ($guest_login) = grep { ref $_->{data} eq 'HASH' && ($_->{data}{role} // '') eq 'guest' } @answers;
ok $guest_login && $guest_login->{data}{sub} eq $guest_id, 'the QR token became a guest token';

my ($play) = grep { ref $_->{data} eq 'HASH' && exists $_->{data}{total_score} } @answers;
ok $play && $play->{data}{guest_id} == $guest_id && $play->{data}{is_completed},
    "$name played" or diag explain $play;

my ($board) = grep { ref $_->{data} eq 'ARRAY' && @{ $_->{data} } && exists $_->{data}[0]{rank} } @answers;
ok $board, 'the leaderboard was read' or diag $output;
my @rows = $board ? @{ $board->{data} } : ();
ok @rows && @rows <= 5, '... one page of at most 5 rows';
my ($row) = grep { $_->{participant_kind} eq 'guest' && $_->{participant_id} == $guest_id } @rows;
ok $row, "... listing $name";
is $row && $row->{display_name}, $name, '... by name' if $row;
is $row && $row->{rank}, 1, '... at rank 1' if $row;
is $row && $row->{participation_id}, $play && $play->{data}{id}, '... with the play just recorded'
    if $row;

done_testing;
