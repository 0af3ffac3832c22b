# Scale-out: two gateways behind an imaginary load balancer, sharing one Redis (a
# private one) and the primary, both reading from the suite's streaming replica. What
# they share works across them: one rate-limit budget, cached answers (a value computed
# by one is a hit on the other), event generations (a write through one invalidates the
# other's answers) and the leaderboard change signal (each polls it); live streams on
# both get the same update; reads go to the replica, writes to the primary, and a write's
# LSN from one gateway gives read-your-writes on the other. Nothing is kept in a
# gateway that the others need: one stops, the other keeps serving, and a new one serves
# the cached leaderboard from Redis at once.
#
# Two checks pin fixed bugs: a cached event answer recomputed after a write must see the
# write (misses of generation-tagged answers run on the primary, not on a replica that
# may lag), and a new gateway must not take a game it never saw change as unchanged (it
# reads the game's version from the primary once).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use IO::Socket::INET;
use JSON::PP ();
use List::Util qw(max);
use Time::HiRes qw(sleep time);
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway start_redis wait_until json stream_open stream_pump);

my $db = 'qr_test';
my $tag = "scale$$";
my $password = 'correct horse battery';
plan skip_all => 'no replica (run through make test)' unless $ENV{QR_TEST_REPLICA_DB};

# --- fixtures, through psql -------------------------------------------------------------
sub row { my $id = psql($db, $_[0]); die "no id from: $_[0]" unless $id =~ /^\d+$/; return $id }
my $organiser = row("SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
    . literal("organiser-$tag\@example.com") . ', ' . literal($password) . ", 'Organiser')");
my $event = row("INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES ($organiser, "
    . literal("Scale $tag") . ", now() - interval '1 hour', now() + interval '8 hours') RETURNING id");
sub play { psql($db, "SELECT qr_event.record_play($_[0], $_[1], NULL, $_[2], true)") }
# A live game whose new guests (name => score) have played: (game, {name => guest id}).
sub board {
    my (%scores) = @_;
    my $game = row("INSERT INTO qr_event.games (event_id, title, status) VALUES ($event, 'Darts', 'live') RETURNING id");
    my %guests = map { $_ => row("INSERT INTO qr_event.guests (event_id, first_name) VALUES ($event, "
        . literal($_) . ') RETURNING id') } sort keys %scores;
    play($game, $guests{$_}, $scores{$_}) for sort keys %scores;
    return ($game, \%guests);
}
# Waits until the replica has replayed everything committed so far (reads that compute a
# cached answer may run there).
sub replica_caught_up {
    my $lsn = psql($db, 'SELECT pg_current_wal_insert_lsn()');
    local $ENV{PGPORT} = $ENV{QR_TEST_REPLICA_PORT};
    wait_until(30, sub { psql($db, "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn") eq 't' })
        or BAIL_OUT("the replica did not replay $lsn");
}

# --- HTTP -------------------------------------------------------------------------------
sub call { my ($g, @rest) = @_; return $g->call(@rest) }
sub cache { return $_[0]{json}{meta}{cache} // 'none' }
sub from { return $_[0]{headers}{'qr-read-from'} // 'none' }
sub scores { return join ',', map { "$_->{display_name}=$_->{total_score}" } @{ $_[0]{json}{data} // [] } }
sub names { return join ',', sort map { $_->{first_name} // $_->{name} } @{ $_[0]{json}{data} // [] } }

my $redis = start_redis();
my %shared = (QR_GATEWAY_REDIS => $redis->address, QR_GATEWAY_DB_REPLICAS => $ENV{QR_TEST_REPLICA_DB},
              QR_GATEWAY_REPLICA_CHECK_MS => 50, QR_GATEWAY_CHANGE_POLL_MS => 50);
sub pttl { my $v = $redis->cli('PTTL', $_[0]); chomp $v; return $v }

# --- 1: one rate-limit budget for both ----------------------------------------------------
my $huge = '1000/s,burst=1000';
my @limited = map { start_gateway(env => { %shared, QR_GATEWAY_RATE_LIMITS => 'on',
    QR_GATEWAY_RATE_ANONYMOUS => $huge, QR_GATEWAY_RATE_AUTHENTICATED => $huge, QR_GATEWAY_RATE_PREMIUM => $huge,
    QR_GATEWAY_RATE_LEADERBOARD => '10/s,burst=5' }) } 1, 2;
my ($g0) = board(Ann => 1);
replica_caught_up();    # the gateways read the game from the replica
my @got = ([], []);
my @refused = (0, 0);
my $t0 = time;
# Alternating, back to back, for 2 s (on, up to 6 s, until both refused twice).
for (my $i = 0; time - $t0 < 2 || (time - $t0 < 6 && grep { $_ < 2 } @refused); $i++) {
    push @{ $got[$i % 2] }, call($limited[$i % 2], 'GET', "/api/games/$g0/leaderboard", from => '127.0.0.8');
    $refused[$i % 2]++ if $got[$i % 2][-1]{status} == 429;
}
my $window = time - $t0;
my @all = map { @$_ } @got;
my $accepted = grep { $_->{status} == 200 } @all;
is scalar(grep { $_->{status} != 200 && $_->{status} != 429 } @all), 0, 'the flood got only 200 and 429';
cmp_ok $accepted, '<=', int(10 * $window) + 5 + 1,
    sprintf '%d requests alternating over two gateways in %.2f s: %d accepted, at most rate * T + burst + 1',
    scalar @all, $window, $accepted;
cmp_ok $accepted, '>=', 5 + int(10 * $window / 2), '... and at least burst + rate * T / 2';
for my $k (0, 1) {
    my %n;
    $n{ $_->{status} }++ for @{ $got[$k] };
    ok $n{200} && $n{429}, "gateway " . ($k + 1) . " accepted some ($n{200}) and refused some (" . ($n{429} // 0) . ')';
}
my $bucket = pttl('qr:rl:leaderboard:ip:127.0.0.8');
ok $bucket == -2 || ($bucket > 0 && $bucket <= 1000),
    "the shared bucket lives in Redis and expires once full (PTTL $bucket ms; burst / rate = 500 ms)";
is $_->stop, 0, 'a limited gateway stops cleanly' for @limited;

# --- 2: shared cached answers, shared generations -----------------------------------------
my ($ga, $gb) = map { start_gateway(env => \%shared) } 1, 2;
my $org = call($ga, 'POST', '/api/auth/login', body => { email => "organiser-$tag\@example.com", password => $password })
    ->{json}{data}{token} or BAIL_OUT('the organiser cannot log in');
my $guests = "/api/events/$event/guests?limit=100";
my $res = call($ga, 'GET', $guests, token => $org);
is join(',', $res->{status}, cache($res)), '200,miss', 'guests through A: computed (miss)';
$res = call($gb, 'GET', $guests, token => $org);
is join(',', $res->{status}, cache($res)), '200,hit', "... B's first read of them: a hit (from Redis)";
cmp_ok max(map { pttl($_) } split /\n/, $redis->cli('KEYS', 'qr:c:*')), '>', 890_000,
    'the value in Redis expires at its TTL + the stale window (300 s + 600 s)';
$res = call($gb, 'POST', "/api/events/$event/guests", token => $org, body => { first_name => 'Newt' });
is $res->{status}, 201, 'a guest added through B: 201';
like $res->{headers}{'qr-write-lsn'}, qr{^[0-9A-F]+/[0-9A-F]+$}, '... on the primary (QR-Write-LSN)';
is from($res), 'none', '... not from a replica';
is pttl("qr:t:e:$event"), -1, 'the event generation is a counter in Redis without expiry';
$res = call($ga, 'GET', $guests, token => $org);
is cache($res), 'miss', "A's next read: a miss (the generation is shared)";
like names($res), qr/\bNewt\b/, '... that includes the new guest';
sleep 1;
like names(call($gb, 'GET', $guests, token => $org)), qr/\bNewt\b/, '... as B shows a second later';

my ($g1, $p1) = board(Ann => 30, Ben => 20, Cat => 10);
replica_caught_up();
my $lb = "/api/games/$g1/leaderboard";
$res = call($ga, 'GET', $lb);
is join(',', cache($res), scores($res)), 'miss,Ann=30,Ben=20,Cat=10', 'a leaderboard through A: miss';
$res = call($gb, 'GET', $lb);
is join(',', cache($res), scores($res)), 'hit,Ann=30,Ben=20,Cat=10', "... B's first read: a hit (from Redis)";
play($g1, $p1->{Cat}, 50);
for my $g ([A => $ga], [B => $gb]) {
    my @seen;
    ok wait_until(5, sub { push @seen, call($g->[1], 'GET', $lb); scores($seen[-1]) eq 'Cat=50,Ann=30,Ben=20' }),
        "a score changed in SQL: $g->[0] serves the new ranking within 5 s (" . @seen . ' reads)';
}

# --- 3: live streams on both ----------------------------------------------------------------
sub ranking { return join ',', map { "$_->{rank}:$_->{display_name}=$_->{total_score}" } @{ $_[0]{data}{entries} } }

my @streams = map { stream_open($_, "/api/games/$g1/leaderboard/stream?limit=3") } $ga, $gb;
stream_pump($_, 5, sub { @{ $_[0]{events} } >= 1 }) for @streams;
is join(',', map { $_->{status} // 'none' } @streams), '200,200', 'a stream on each gateway: 200';
is join(' | ', map { ranking($_->{events}[0]) } @streams), join(' | ', ('1:Cat=50,2:Ann=30,3:Ben=20') x 2),
    '... both start with the current top 3';
play($g1, $p1->{Ben}, 70);
for my $st (@streams) {
    stream_pump($st, 5, sub { @{ $st->{events} } >= 2 });
}
my @updates = map { $_->{events}[1] } @streams;
is join(' | ', map { $_ ? ranking($_) : 'none' } @updates), join(' | ', ('1:Ben=70,2:Cat=50,3:Ann=30') x 2),
    'a score changed in SQL: both streams get leaderboard-updated with the new ranking';
ok $updates[0] && $updates[1] && $updates[0]{id} == $updates[1]{id} && $updates[0]{id} > $streams[0]{events}[0]{id},
    sprintf '... at the same new version (%s, %s)', map { $_ ? $_->{id} : 'none' } @updates;
is_deeply $updates[0]{data}{entries}, $updates[1]{data}{entries}, '... with the same entries';
close $_->{sock} for @streams;

# --- 4: reads from the replica, writes to the primary, on both --------------------------------
for my $g ([A => $ga], [B => $gb]) {
    ok wait_until(30, sub { from(call($g->[1], 'GET', $lb, after => '0/0')) eq 'replica' }),
        "$g->[0]: a read past the cache (QR-Read-After: 0/0) runs on the replica";
}
$res = call($ga, 'POST', "/api/events/$event/families", token => $org, body => { name => 'Scalers' });
is $res->{status}, 201, 'a family added through A: 201';
like $res->{headers}{'qr-write-lsn'}, qr{^[0-9A-F]+/[0-9A-F]+$}, '... with QR-Write-LSN';
is psql($db, "SELECT count(*) FROM qr_event.families WHERE event_id = $event AND name = 'Scalers'"), 1,
    '... committed on the primary';
$res = call($gb, 'GET', "/api/events/$event/families", token => $org, after => $res->{headers}{'qr-write-lsn'});
is join(',', $res->{status}, names($res)), '200,Scalers', "B honours A's LSN: read-your-writes across gateways";
like from($res), qr/^(replica|primary)$/, '... from ' . from($res);

# --- 5: stateless: stop A, B goes on, a new A' serves from Redis at once ---------------------
my ($g2, $p2) = board(Dee => 5, Eve => 4);
replica_caught_up();
my $lb2 = "/api/games/$g2/leaderboard";
is cache(call($ga, 'GET', $lb2)), 'miss', 'a second leaderboard computed through A';
is $ga->stop('TERM'), 0, 'A stops (TERM) cleanly';
$res = call($gb, 'GET', $lb);
is join(',', $res->{status}, scores($res)), '200,Ben=70,Cat=50,Ann=30', 'B keeps serving (' . cache($res) . ')';
play($g2, $p2->{Eve}, 9);    # while no gateway reads that board
replica_caught_up();
my $ga2 = start_gateway(env => \%shared);
$res = call($ga2, 'GET', $lb);
is join(',', $res->{status}, cache($res), scores($res)), '200,hit,Ben=70,Cat=50,Ann=30',
    "a new gateway A': its first read of the leaderboard is a hit from Redis";
$res = call($ga2, 'GET', $lb2);
is join(',', cache($res), scores($res)), 'miss,Eve=9,Dee=5',
    "... but a board changed before A' started is computed again";
is $_->stop, 0, 'a gateway stops cleanly' for $gb, $ga2;
done_testing;
