# The gateway's answer cache (in process and in Redis) and its live leaderboard stream,
# against the real Postgres and Redis: miss, hit, ETag and 304, Cache-Control by route;
# private answers keyed by caller; invalidation by the leaderboard change signal (a play
# recorded in SQL) and by writes through the gateway; expiry with stale-while-revalidate
# and early XFetch refreshes; one recompute for 64 simultaneous callers of an expired or
# a cold key (also as Postgres counts the calls); QR-Read-After and QR_GATEWAY_CACHE=off
# bypass it. The stream: its first event, an event per change, heartbeats, coalescing,
# the cap on streams, 404 and 400. Every part uses its own game, since the gateways here
# share the values in Redis.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use List::Util qw(max sum0 uniq);
use POSIX ();
use Time::HiRes qw(sleep time);
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway wait_until json stream_open stream_pump);

my $db = 'qr_test';
my $tag = "edge$$";
my $password = 'correct horse battery';

# --- fixtures, through psql -------------------------------------------------------------------
sub row { my $id = psql($db, $_[0]); die "no id from: $_[0]" unless $id =~ /^\d+$/; return $id }
sub account {
    return row("SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
        . literal("$_[0]-$tag\@example.com") . ', ' . literal($password) . ', ' . literal("$_[0] $tag") . ')');
}
sub event_of {
    return row("INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES ($_[0], "
        . literal("$_[1] $tag") . ", now() - interval '1 hour', now() + interval '8 hours') RETURNING id");
}
# Completed plays, each in its own transaction: [game, guest, score]...
sub plays {
    system('psql', '-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '-d', $db,
           map { ('-c', "SELECT qr_event.record_play($_->[0], $_->[1], NULL, $_->[2], true)") } @_) == 0
        or die 'record_play failed';
}
# A live game in $event whose new guests (name => score) have played: (game, {name => guest id}).
sub board {
    my ($event, %scores) = @_;
    my $game = row("INSERT INTO qr_event.games (event_id, title) VALUES ($event, 'Darts');"
        . " UPDATE qr_event.games SET status = 'live' WHERE id = (SELECT max(id) FROM qr_event.games"
        . " WHERE event_id = $event) RETURNING id");
    my %guests = split /[=,]/, psql($db, 'WITH g AS (INSERT INTO qr_event.guests (event_id, first_name) SELECT '
        . "$event, unnest(ARRAY[" . join(',', map { literal($_) } sort keys %scores) . ']) RETURNING id, first_name)'
        . " SELECT string_agg(first_name || '=' || id, ',') FROM g");
    plays(map { [$game, $guests{$_}, $scores{$_}] } sort keys %scores);
    return ($game, \%guests);
}

my ($ev_a, $ev_b) = (event_of(account('alice'), 'Gala'), event_of(account('bob'), 'Fair'));

# --- HTTP -------------------------------------------------------------------------------------
sub call { my ($g, @rest) = @_; return $g->call(@rest) }
sub cache { return $_[0]{json}{meta}{cache} // 'none' }
sub caches { my ($g, $path, $n, %o) = @_; return join ',', map { cache(call($g, 'GET', $path, %o)) } 1 .. $n }
sub scores { return join ',', map { "$_->{display_name}=$_->{total_score}" } @{ $_[0]{json}{data} // [] } }
sub event_ids { return join ',', sort map { $_->{id} } @{ $_[0]{json}{data} // [] } }
sub max_age { my ($age) = ($_[0]{headers}{'cache-control'} // '') =~ /^public, max-age=(\d+)$/; return $age }
sub metric {
    my ($g, $name) = @_;
    my ($v) = call($g, 'GET', '/metrics')->{content} =~ /^\Q$name\E (\d+)$/m;
    return $v // 0;
}
sub login {
    return call($_[0], 'POST', '/api/auth/login', body => { email => "$_[1]-$tag\@example.com", password => $password })
        ->{json}{data}{token};
}

my $gw = start_gateway(env => { QR_GATEWAY_CHANGE_POLL_MS => 50 });
my ($ta, $tb) = (login($gw, 'alice'), login($gw, 'bob'));

# --- miss, hit, ETag and 304, Cache-Control; private answers per caller -----------------------
my ($g1, $p1) = board($ev_a, Ann => 300, Ben => 200, Cat => 100);
my $lb = "/api/games/$g1/leaderboard";
my $res = call($gw, 'GET', $lb);
is join(',', $res->{status}, cache($res)), '200,miss', 'leaderboard: 200, computed (meta.cache miss)';
is scores($res), 'Ann=300,Ben=200,Cat=100', '... in rank order';
my $etag = $res->{headers}{etag};
like $etag, qr/^"[0-9a-f]+"$/, '... with an ETag';
ok defined max_age($res) && max_age($res) <= 30, sprintf '... public, max-age=%s within the 30 s REALTIME TTL',
    max_age($res) // 'none';
$res = call($gw, 'GET', $lb);
is cache($res), 'hit', 'the second read: hit';
is join(' ', $res->{headers}{etag}, scores($res)), "$etag Ann=300,Ben=200,Cat=100", '... same ETag, same answer';
$res = call($gw, 'GET', $lb, etag => $etag);
is $res->{status}, 304, 'If-None-Match with the ETag: 304';
is $res->{content} // '', '', '... without a body';
is $res->{headers}{etag}, $etag, '... naming the ETag';
like $res->{headers}{'cache-control'}, qr/^public, max-age=\d+$/, '... with public Cache-Control';
is call($gw, 'GET', $lb, etag => '"0000000000000000"')->{status}, 200, 'another ETag: 200';
my $part = psql($db, "SELECT id FROM qr_event.game_participations WHERE game_id = $g1 AND guest_id = $p1->{Ben}");
is caches($gw, "$lb/$part", 2), 'miss,hit', 'a leaderboard entry: miss, hit';

$res = call($gw, 'GET', "/api/events/$ev_a", token => $ta);
is join(',', $res->{status}, cache($res)), '200,miss', 'a private route: 200, miss';
is $res->{headers}{'cache-control'}, 'no-store', '... Cache-Control: no-store';
ok $res->{headers}{etag}, '... with an ETag';
$res = call($gw, 'GET', "/api/events/$ev_a", token => $ta);
is join(',', cache($res), $res->{headers}{'cache-control'}), 'hit,no-store', '... then a hit, still no-store';
is call($gw, 'GET', "/api/events/$ev_a", token => $ta, etag => $res->{headers}{etag})->{status}, 304,
    '... and 304 for its ETag';
is call($gw, 'GET', "/api/events/$ev_a", token => $tb)->{status}, 404, 'the cached event is not served to bob: 404';
is caches($gw, "/api/events/$ev_a/$_", 2, token => $ta), 'miss,hit', "/api/events/{id}/$_: miss, hit"
    for 'stats', 'families';
$res = call($gw, 'GET', "/api/events/$ev_a/games");
is join(',', $res->{status}, cache($res)), '200,miss', 'a public event route (games): 200, miss';
ok defined max_age($res) && max_age($res) <= 3600 && max_age($res) > 3000,
    sprintf '... public, max-age=%s within the 3600 s STATIC TTL', max_age($res) // 'none';
my @lists = map { call($gw, 'GET', '/api/events', token => $_) } $ta, $ta, $tb, $tb;
is join(',', map { cache($_) } @lists), 'miss,hit,miss,hit', '/api/events: alice miss, hit; bob miss (not hers), hit';
is event_ids($lists[1]), $ev_a, '... alice sees only her event';
is event_ids($lists[3]), $ev_b, '... bob only his, from the cache too';

# --- the change signal invalidates leaderboards -----------------------------------------------
is cache(call($gw, 'GET', $lb)), 'hit', 'leaderboard cached before a play';
plays([$g1, $p1->{Cat}, 500]);
my ($t0, @seen) = (time);
wait_until(5, sub { push @seen, call($gw, 'GET', $lb); scores($seen[-1]) =~ /^Cat=500/ });
my $waited = time - $t0;
is scores($seen[-1]), 'Cat=500,Ann=300,Ben=200', 'a play recorded in SQL shows on a later read';
is cache($seen[-1]), 'miss', '... which recomputed it (miss, not stale)';
ok $waited < 1.5, sprintf '... %.2f s after the commit (change poll 50 ms)', $waited;
like join(',', map { cache($_) } @seen[0 .. $#seen - 1]), qr/^(?:hit,?)*$/, '... the reads before it: hits';
is call($gw, 'GET', $lb, etag => $etag)->{status}, 200, 'the old ETag: 200 with the new answer';

# --- writes through the gateway invalidate the event's answers and the caller's list ----------
my $gl = "/api/events/$ev_a/guests";
is caches($gw, $gl, 2, token => $ta), 'miss,hit', 'guests: miss, hit';
is call($gw, 'POST', $gl, token => $ta, body => { first_name => 'Newt' })->{status}, 201, 'a guest added: 201';
$res = call($gw, 'GET', $gl, token => $ta);
is cache($res), 'miss', 'guests after the write: miss';
ok scalar(grep { $_->{first_name} eq 'Newt' } @{ $res->{json}{data} }), '... with the new guest';
is cache(call($gw, 'GET', "/api/events/$ev_a/games")), 'miss', 'the event\'s games: miss too';
$res = call($gw, 'POST', '/api/events', token => $ta,
            body => { name => "Ball $tag", starts_at => '2020-01-01T00:00:00Z', ends_at => '2099-01-01T00:00:00Z' });
is $res->{status}, 201, 'alice creates an event through the gateway';
my $ev_a2 = $res->{json}{data}{id};
$res = call($gw, 'GET', '/api/events', token => $ta);
is cache($res), 'miss', '... her list of events: miss';
is event_ids($res), join(',', sort $ev_a, $ev_a2), '... with both her events';
is cache(call($gw, 'GET', '/api/events', token => $tb)), 'hit', '... bob\'s list: still a hit';

# --- QR-Read-After bypasses the cache; metrics ------------------------------------------------
$res = call($gw, 'GET', $lb, after => '0/0');
is join(',', $res->{status}, cache($res), $res->{headers}{etag} // 'no ETag'), '200,none,no ETag',
    'QR-Read-After: 200 without meta.cache or ETag';
cmp_ok metric($gw, qq{qr_gateway_cache_total{class="$_->[0]",result="$_->[1]"}}), '>=', $_->[2],
    "metrics: $_->[0] $_->[1] counted" for [qw(realtime hit 3)], [qw(realtime miss 3)], [qw(frequent hit 3)],
    [qw(computed hit 1)], [qw(static miss 2)];

# --- expiry: a refresh, then hits; XFetch refreshes early -------------------------------------
# A REALTIME TTL of 1 s, no early refresh (beta 0), a 30 s stale window; its connections
# count calls of PL functions (checked at the end). Reads count by when they ended: a
# value computed after $t0 expires after $t0 + TTL.
my $gx = start_gateway(env => {
    QR_GATEWAY_DB => "$ENV{QR_TEST_DB} options='-c track_functions=pl'",
    QR_GATEWAY_CACHE_TTL_REALTIME_S => 1, QR_GATEWAY_CACHE_BETA_REALTIME => 0, QR_GATEWAY_CACHE_STALE_S => 30,
});
sub timed_reads {    # reads until $until; the outcomes of those that ended before $before
    my ($g, $path, $until, $before) = @_;
    my %n;
    while (time < $until) { my $c = cache(call($g, 'GET', $path)); $n{$c}++ if time < $before; }
    return \%n;
}
my ($g4) = board($ev_a, Ann => 30, Ben => 20);
$t0 = time;
is cache(call($gx, 'GET', "/api/games/$g4/leaderboard")), 'miss', 'TTL 1 s: miss';
my $n = timed_reads($gx, "/api/games/$g4/leaderboard", $t0 + 0.8, $t0 + 1);
is join(',', sort keys %$n), 'hit', "beta 0: only hits before the expiry ($n->{hit})";
sleep max(0, $t0 + 1.1 - time);
$t0 = time;
is cache(call($gx, 'GET', "/api/games/$g4/leaderboard")), 'refresh', 'the first read after it: refresh';
$n = timed_reads($gx, "/api/games/$g4/leaderboard", $t0 + 0.5, $t0 + 1);
is join(',', sort keys %$n), 'hit', '... then hits of the new value';

my $gf = start_gateway(env => { QR_GATEWAY_CACHE_TTL_REALTIME_S => 2, QR_GATEWAY_CACHE_BETA_REALTIME => 100 });
my ($g4f) = board($ev_a, map { ("X$_" => $_) } 1 .. 100);    # a page that takes some ms to compute
$t0 = time;
is cache(call($gf, 'GET', "/api/games/$g4f/leaderboard?limit=100")), 'miss', 'TTL 2 s, beta 100: miss';
$n = timed_reads($gf, "/api/games/$g4f/leaderboard?limit=100", $t0 + 1.95, $t0 + 2);
ok $n->{refresh}, sprintf 'XFetch refreshed before the expiry (%d of %d reads)', $n->{refresh} // 0, sum0(values %$n);

# --- stampede: 64 callers at once, one recompute ----------------------------------------------
# 64 connections first, then the 64 requests: as simultaneous as the gateway can see them.
sub burst {
    my ($g, $path, $count) = @_;
    my @socks = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $g->port, Timeout => 5)
                          or die "connect: $!" } 1 .. $count;
    syswrite $_, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" for @socks;
    my ($sel, $deadline, %reply) = (IO::Select->new(@socks), time + 20, map { (fileno($_) => '') } @socks);
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(0.5)) {
            my $got = sysread $s, my $chunk, 65536;
            if ($got) { $reply{ fileno $s } .= $chunk } else { $sel->remove($s) }
        }
    }
    return map { QRTest::Gateway::parse_raw($reply{ fileno $_ }) } @socks;
}
sub stampede {
    my ($name, $path, @allowed) = @_;
    my ($n, @replies) = ({}, burst($gx, $path, 64));
    $n->{ cache($_) }++ for @replies;
    my $recomputes = ($n->{miss} // 0) + ($n->{refresh} // 0);
    my %ok = map { $_ => 1 } @allowed;
    is scalar(grep { ($_->{status} // 0) == 200 } @replies), 64, "$name: all 64 answer 200";
    is scalar(grep { scores($_) eq scores($replies[0]) } @replies), 64, "$name: ... the same leaderboard";
    ok $recomputes >= 1 && $recomputes <= 2, "$name: $recomputes recompute(s) ("
        . join(', ', map { "$_ $n->{$_}" } sort keys %$n) . ')';
    is join(',', grep { !$ok{$_} } sort keys %$n), '', "$name: only @allowed";
}
my ($g5) = board($ev_a, Ann => 3, Ben => 2, Cat => 1);
is cache(call($gx, 'GET', "/api/games/$g5/leaderboard")), 'miss', 'a hot key, computed';
sleep 1.2;
stampede('expired, within the stale window', "/api/games/$g5/leaderboard", qw(hit refresh stale));
my ($g5c) = board($ev_a, Ann => 3, Ben => 2, Cat => 1);
stampede('a cold key', "/api/games/$g5c/leaderboard", qw(hit miss));
# An error is not cached: the callers waiting on the one computing it must not wait out
# cache_lock_ms (5 s) for a value that never comes.
my $t_err = time;
my @missing = burst($gx, '/api/events/999999999/games', 16);
is join(',', sort { $a <=> $b } uniq(map { $_->{status} // 0 } @missing)), '404', 'a missing event asked 16 times at once: 404';
cmp_ok time - $t_err, '<', 2.5, sprintf '... all within %.2f s, not after the 5 s lock', time - $t_err;

# --- QR_GATEWAY_CACHE=off ---------------------------------------------------------------------
my $goff = start_gateway(env => { QR_GATEWAY_CACHE => 'off' });
for my $r (call($goff, 'GET', $lb), call($goff, 'GET', "/api/events/$ev_a", token => $ta)) {
    is join(',', $r->{status}, cache($r), $r->{headers}{etag} // 'no ETag', $r->{headers}{'cache-control'}),
        '200,none,no ETag,no-store', 'cache off: 200, no meta.cache, no ETag, no-store';
}
is $goff->stop, 0, 'the gateway without a cache stops cleanly';

# --- the live stream --------------------------------------------------------------------------
my $gs = start_gateway(env => { QR_GATEWAY_CHANGE_POLL_MS => 50, QR_GATEWAY_STREAM_HEARTBEAT_MS => 300,
                                QR_GATEWAY_STREAM_INTERVAL_MS => 1000, QR_GATEWAY_STREAM_MAX_CLIENTS => 2 });
sub ranking { join ',', map { "$_->{rank}:$_->{display_name}=$_->{total_score}" } @{ $_[0]{data}{entries} } }
sub cpu_s {    # CPU time the process has used (utime + stime), in s
    open my $fh, '<', "/proc/$_[0]{pid}/stat" or return 0;
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

my ($g8, $p8) = board($ev_a, Ann => 300, Ben => 200, Cat => 100, Dan => 50);
my $s1 = stream_open($gs, "/api/games/$g8/leaderboard/stream?limit=3");
is $s1->{status}, 200, 'stream: 200';
like $s1->{headers}{'content-type'}, qr{^text/event-stream}, '... text/event-stream';
stream_pump($s1, 5, sub { @{ $s1->{events} } >= 1 });
is $s1->{blocks}[0], 'retry: 2000', '... first retry: 2000';
my $first = $s1->{events}[0];
is $first->{event}, 'leaderboard-updated', 'the first event: leaderboard-updated';
is ranking($first), '1:Ann=300,2:Ben=200,3:Cat=100', '... with the top 3 in rank order';
is_deeply [ @{ $first->{data} }{qw(game_id version)} ], [ $g8, $first->{id} ], '... its game, its version as id';
ok stream_pump($s1, 2, sub { @{ $s1->{beats} } >= 2 }), 'heartbeats while nothing changes (every 300 ms)';
plays([$g8, $p8->{Dan}, 400]);
ok stream_pump($s1, 5, sub { @{ $s1->{events} } >= 2 }), 'a play recorded in SQL: a new event within 5 s';
my $second = $s1->{events}[1];
cmp_ok $second->{id}, '>', $first->{id}, '... with a higher version';
is ranking($second), '1:Dan=400,2:Ann=300,3:Ben=200', '... and the new ranking';

# Coalescing (an event a second at most): five plays right after an event.
my ($g8c, $p8c) = board($ev_a, map { ("Q$_" => $_) } 1 .. 5);
my $s2 = stream_open($gs, "/api/games/$g8c/leaderboard/stream");
stream_pump($s2, 5, sub { @{ $s2->{events} } >= 1 });
my ($t8, $cpu8) = (time, cpu_s($gs));
plays(map { [$g8c, $p8c->{"Q$_"}, 1000 + $_] } 1 .. 5);
stream_pump($s2, $t8 + 1.5 - time, sub { 0 });
$cpu8 = cpu_s($gs) - $cpu8;
my $within = @{ $s2->{events} } - 1;
ok $within >= 1 && $within <= 2, "five quick plays: $within event(s) within 1.5 s";
ok stream_pump($s2, 4, sub { ranking($s2->{events}[-1]) eq '1:Q5=1005,2:Q4=1004,3:Q3=1003,4:Q2=1002,5:Q1=1001' }),
    '... the last holds all five scores';
my @gaps = map { $s2->{events}[$_]{at} - $s2->{events}[$_ - 1]{at} } 1 .. $#{ $s2->{events} };
ok !grep({ $_ < 0.8 } @gaps), '... a second apart (' . join(', ', map { sprintf '%.2f s', $_ } @gaps) . ')';
cmp_ok $cpu8, '<', 0.3, sprintf '... while the gateway idles (%.2f s CPU in 1.5 s)', $cpu8;

# The cap: two streams are open, a third gets 503; closing one frees its place.
is metric($gs, 'qr_gateway_stream_clients'), 2, 'metrics: qr_gateway_stream_clients 2';
$res = call($gs, 'GET', "/api/games/$g8/leaderboard/stream");
is $res->{status}, 503, 'a third stream: 503';
is $res->{json}{success}, JSON::PP::false, '... a JSON error';
close $s2->{sock};
ok wait_until(5, sub { metric($gs, 'qr_gateway_stream_clients') == 1 }), 'a stream its client closed: 1 open';
my $s3 = stream_open($gs, "/api/games/$g8/leaderboard/stream");
is $s3->{status}, 200, '... and a new one is served';
close $_->{sock} for $s1, $s3;
ok wait_until(5, sub { metric($gs, 'qr_gateway_stream_clients') == 0 }), 'all closed: qr_gateway_stream_clients 0';
$res = call($gs, 'GET', '/api/games/999999999/leaderboard/stream');
is $res->{status}, 404, 'the stream of an unknown game: 404';
is $res->{json}{success}, JSON::PP::false, '... a JSON error';
is call($gs, 'GET', "/api/games/$g8/leaderboard/stream?$_")->{status}, 400, "stream ?$_: 400"
    for 'limit=0', 'limit=101', 'limit=abc', 'limit=', 'rank_mode=dense';

my $g2t = start_gateway(env => { QR_GATEWAY_THREADS => 4, QR_GATEWAY_STREAM_MAX_CLIENTS => 16 });
my @open = map { stream_open($g2t, "/api/games/$g8/leaderboard/stream") } 1 .. 2;
is join(',', map { $_->{status} } @open), '200,200', '4 threads: two streams';
is call($g2t, 'GET', "/api/games/$g8/leaderboard/stream")->{status}, 503, '... a third: 503 (half the threads)';
close $_->{sock} for @open;

# --- the recomputes as Postgres counted them --------------------------------------------------
# Only $gx's connections count calls; a backend reports them at most once a second (else
# after 10 s idle). Every compute $gx reported (miss, refresh) is one call, no more.
my $computes = sum0(map { metric($gx, qq{qr_gateway_cache_total{class="realtime",result="$_"}}) } qw(miss refresh));
my $calls = "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'http_leaderboard'";
wait_until(12, sub { psql($db, $calls) >= $computes });
is psql($db, $calls), $computes, "Postgres ran http_leaderboard as often as the gateway recomputed ($computes)";

for my $g ($gw, $gx, $gf, $gs, $g2t) {
    is $g->stop, 0, "the gateway on port $g->{port} stops cleanly" or diag substr($g->log_text, -2000);
}
done_testing;
