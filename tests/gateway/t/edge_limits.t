# Rate limits at their edges: floods against each tier (anonymous per IP, standard and
# premium tokens) and each limited endpoint (login, leaderboard, play, events) accept at
# most rate * T + burst (+1 for clock granularity) and refuse the rest with 429 and
# consistent headers; principals have their own budgets; the concurrency cap refuses a
# request beyond its slots while others are in flight and gives the slots back; two
# gateways share one budget through Redis; with Redis gone the in-process limiter still
# limits; a SCRIPT FLUSH (NOSCRIPT) does not break the shared limiter.
#
# Every limited gateway here uses a private Redis (killed at the end) and small rates;
# each flood uses a principal no other flood used (its own account, guest or loopback
# address 127.0.0.x), so every bucket starts full.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use JSON::PP ();
use List::Util qw(max min);
use Test::More;
use Time::HiRes qw(time);
use QRPg qw(psql literal scratch_database);
use QRTest qw(start_gateway start_redis wait_until);

my $db = 'qr_test';
my $tag = "limits$$";
my $password = 'correct horse battery';
my $json = JSON::PP->new->canonical;
my $huge = '1000/s,burst=1000';

# --- fixtures: accounts, an event with a live game, a guest who has played ------------------
sub account {
    my ($name, $tier) = @_;
    return psql($db, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
        . literal("$name-$tag\@example.com") . ', ' . literal($password) . ', ' . literal($name)
        . ', ' . literal($tier // 'standard') . ')');
}
my %id = map { $_ => account($_) } qw(organiser std_a std_b std_c std_d);
$id{premium} = account('premium', 'premium');
my $event = psql($db, "INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) VALUES "
    . "($id{organiser}, 'Limits', 'Hall', now() - interval '1 hour', now() + interval '1 day') RETURNING id");
my $game = psql($db, "INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES "
    . "($event, 'Darts', 'live', 'best') RETURNING id");
my $guest = psql($db, "INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES "
    . "($event, 'Ann', 'Archer') RETURNING id");
psql($db, "SELECT qr_event.record_play($game, $guest, NULL, 10, true)");

# Tokens come from a gateway without limits; any gateway here accepts them (same secret).
my $setup = start_gateway();
sub call { my ($g, @rest) = @_; return $g->call(@rest) }
my %token;
for my $name (qw(organiser std_a std_b std_c std_d premium)) {
    my $res = call($setup, 'POST', '/api/auth/login',
                   body => { email => "$name-$tag\@example.com", password => $password });
    $token{$name} = $res->{json}{data}{token} or BAIL_OUT("$name cannot log in: $res->{content}");
}
my $qr = call($setup, 'POST', "/api/events/$event/guests/$guest/qr", token => $token{organiser})
    ->{json}{data}{token};
$token{guest} = call($setup, 'POST', '/api/auth/guest', body => { qr_token => $qr })->{json}{data}{token}
    or BAIL_OUT('no guest token');
is $setup->stop('TERM'), 0, 'fixtures ready';

my $redis = start_redis();
sub limited_gateway {
    my (%env) = @_;
    return start_gateway(env => { QR_GATEWAY_RATE_LIMITS => 'on', QR_GATEWAY_REDIS => $redis->address,
                                  QR_GATEWAY_RATE_PREMIUM => $huge, QR_GATEWAY_RATE_AUTHENTICATED => $huge,
                                  QR_GATEWAY_RATE_ANONYMOUS => $huge, %env });
}

# --- floods and their checks ---------------------------------------------------------------
# Calls @callers round robin, back to back, for $seconds, and on (at most 3 * $seconds in
# all) until each caller was refused at least twice: a loaded machine may send slowly.
# Returns the window from the first request's start to the last answer, and the answers
# of each caller.
sub flood {
    my ($seconds, @callers) = @_;
    my @got = map { [] } @callers;
    my @refused = map { 0 } @callers;
    my $t0 = time;
    for (my $i = 0; time - $t0 < $seconds || (time - $t0 < 3 * $seconds && grep { $_ < 2 } @refused); $i++) {
        my $k = $i % @callers;
        push @{ $got[$k] }, $callers[$k]->();
        $refused[$k]++ if $got[$k][-1]{status} == 429;
    }
    return (time - $t0, @got);
}

# Why a 429 is malformed, or '' when it is as specified for a limit of $burst.
sub refusal_problem {
    my ($res, $burst, $scope) = @_;
    my ($h, $e) = ($res->{headers}, $res->{json}{error} // {});
    return 'error.code' unless ($e->{code} // '') eq 'rate_limited';
    return 'message' unless ($e->{message} // '') eq "rate limit of $scope exceeded";
    return 'retryAfter' unless ($e->{retryAfter} // '') =~ /^\d+$/ && $e->{retryAfter} >= 1;
    return 'Retry-After' unless ($h->{'retry-after'} // '') eq $e->{retryAfter};
    return 'RateLimit-Remaining' unless ($h->{'ratelimit-remaining'} // '') eq '0';
    return 'RateLimit-Limit' unless ($h->{'ratelimit-limit'} // '') eq $burst;
    return 'RateLimit-Reset' unless ($h->{'ratelimit-reset'} // '') =~ /^\d+$/;
    return '';
}

# Why an accepted answer's rate limit headers are wrong, or ''.
sub accepted_problem {
    my ($res, $burst) = @_;
    my $h = $res->{headers};
    return 'RateLimit-Limit' unless ($h->{'ratelimit-limit'} // '') eq $burst;
    return 'RateLimit-Remaining' unless ($h->{'ratelimit-remaining'} // '') =~ /^\d+$/
        && $h->{'ratelimit-remaining'} <= $burst;
    return 'RateLimit-Reset' unless ($h->{'ratelimit-reset'} // '') =~ /^\d+$/;
    return 'Retry-After on an accepted answer' if defined $h->{'retry-after'};
    return '';
}

# Checks one principal's answers of a flood over $window s under "$rate/s,burst=$burst" of
# $scope; the accepted ones must have status $ok. Returns the number of refusals.
sub check_flood {
    my ($name, $window, $answers, $rate, $burst, $scope, $ok) = @_;
    my @accepted = grep { $_->{status} != 429 } @$answers;
    my @refused = grep { $_->{status} == 429 } @$answers;
    my $most = int($rate * $window) + $burst + 1;
    my $least = min(scalar @$answers, $burst + int($rate * $window / 2));
    cmp_ok scalar @accepted, '<=', $most,
        sprintf('%s: %d requests in %.2f s, accepted at most rate * T + burst + 1', $name,
                scalar @$answers, $window);
    cmp_ok scalar @accepted, '>=', $least, "$name: accepted at least burst + rate * T / 2";
    ok @refused > 0, "$name: the rest refused with 429";
    my @other = grep { $_->{status} != $ok } @accepted;
    is scalar @other, 0, "$name: every accepted request answered $ok"
        or diag "got $other[0]{status}: $other[0]{content}";
    my ($bad) = grep { refusal_problem($_, $burst, $scope) } @refused;
    ok !$bad, "$name: every 429 is rate_limited with Retry-After = retryAfter >= 1, "
        . "RateLimit-Remaining 0, RateLimit-Limit $burst"
        or diag refusal_problem($bad, $burst, $scope) . ': ' . $json->encode($bad->{headers})
            . " $bad->{content}";
    ($bad) = grep { accepted_problem($_, $burst) } @accepted;
    ok !$bad, "$name: every accepted answer has RateLimit-Limit $burst, Remaining and Reset"
        or diag accepted_problem($bad, $burst) . ": " . $json->encode($bad->{headers});
    return scalar @refused;
}

# --- 1, 2: tiers; principals are independent --------------------------------------------------
my $gw = limited_gateway(QR_GATEWAY_RATE_ANONYMOUS => '10/s,burst=5',
                         QR_GATEWAY_RATE_AUTHENTICATED => '5/s,burst=3',
                         QR_GATEWAY_RATE_PREMIUM => '20/s,burst=8');
my $doc = "/api/events/$event/games";    # public, cached, limited by the tier alone
my ($w, $ip2, $ip3) = flood(1.2, sub { call($gw, 'GET', $doc, from => '127.0.0.2') },
                                 sub { call($gw, 'GET', $doc, from => '127.0.0.3') });
my $anon = check_flood('anonymous 127.0.0.2', $w, $ip2, 10, 5, 'anonymous', 200);
$anon += check_flood('anonymous 127.0.0.3 (own budget per IP)', $w, $ip3, 10, 5, 'anonymous', 200);

my ($one, $two);
($w, $one, $two) = flood(1.2, sub { call($gw, 'GET', $doc, token => $token{std_a}) },
                          sub { call($gw, 'GET', $doc, token => $token{std_b}) });
my $std = check_flood('standard account A', $w, $one, 5, 3, 'authenticated', 200);
$std += check_flood('standard account B (own budget)', $w, $two, 5, 3, 'authenticated', 200);

($w, $one, $two) = flood(1.2, sub { call($gw, 'GET', $doc, token => $token{std_c}, from => '127.0.0.2') },
                          sub { call($gw, 'GET', $doc, token => $token{std_c}, from => '127.0.0.3') });
$std += check_flood('account C from two IPs (one budget: the account)', $w, [@$one, @$two], 5, 3,
                    'authenticated', 200);

my $p;
($w, $p) = flood(1.2, sub { call($gw, 'GET', $doc, token => $token{premium}) });
my $prem = check_flood('premium account', $w, $p, 20, 8, 'premium', 200);

my @probes = map { call($gw, 'GET', $_, from => '127.0.0.2') } (qw(/healthz /readyz /metrics) x 10);
is_deeply [grep { $_->{status} != 200 || defined $_->{headers}{'ratelimit-limit'} } @probes], [],
    '/healthz, /readyz and /metrics: 30 calls from a spent IP, never limited, no RateLimit headers';
is $gw->metric('qr_gateway_rate_limited_total', tier => 'anonymous', scope => 'anonymous'), $anon,
    'metrics: anonymous refusals counted';
is $gw->metric('qr_gateway_rate_limited_total', tier => 'authenticated', scope => 'authenticated'), $std,
    'metrics: standard refusals counted';
is $gw->metric('qr_gateway_rate_limited_total', tier => 'premium', scope => 'premium'), $prem,
    'metrics: premium refusals counted';
$gw->stop('TERM');

# --- 1: endpoints (tiers far above them) ---------------------------------------------------------
$gw = limited_gateway(QR_GATEWAY_RATE_LOGIN => '5/s,burst=3', QR_GATEWAY_RATE_LEADERBOARD => '10/s,burst=5',
                      QR_GATEWAY_RATE_PLAY => '5/s,burst=2', QR_GATEWAY_RATE_EVENTS => '10/s,burst=4');
my %refused;
($w, $one) = flood(1.2, sub { call($gw, 'POST', '/api/auth/login', from => '127.0.0.4',
    body => { email => "std_d-$tag\@example.com", password => $password }) });
$refused{login} = check_flood('login endpoint', $w, $one, 5, 3, 'login', 200);
($w, $one) = flood(1.2, sub { call($gw, 'GET', "/api/games/$game/leaderboard", from => '127.0.0.5') });
$refused{leaderboard} = check_flood('leaderboard endpoint', $w, $one, 10, 5, 'leaderboard', 200);
($w, $one) = flood(1.2, sub { call($gw, 'POST', "/api/games/$game/play", token => $token{guest},
    body => { score => 1, completed => JSON::PP::false }) });
$refused{play} = check_flood('play endpoint (a guest)', $w, $one, 5, 2, 'play', 200);
($w, $one) = flood(1.2, sub { call($gw, 'GET', '/api/events', token => $token{std_d}) });
$refused{events} = check_flood('events endpoint', $w, $one, 10, 4, 'events', 200);
my %tier_of = (login => 'anonymous', leaderboard => 'anonymous', play => 'authenticated',
               events => 'authenticated');
for my $scope (sort keys %refused) {
    is $gw->metric('qr_gateway_rate_limited_total', tier => $tier_of{$scope}, scope => $scope),
        $refused{$scope}, "metrics: $scope refusals counted under tier $tier_of{$scope}";
}
$gw->stop('TERM');

# --- 3: the concurrency cap --------------------------------------------------------------------
# A scratch database whose events and games tables a psql session locks: GET
# /api/events/{id}/games then waits in Postgres (the DB timeout is long) and holds its slot.
my $scratch = scratch_database('edge_limits');
psql($scratch, 'CREATE EXTENSION qr_event');
my $owner = psql($scratch, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
    . "'owner\@example.com', " . literal($password) . ", 'Owner')");
my $slow_path = '/api/events/' . psql($scratch, "INSERT INTO qr_event.events (owner_id, name, starts_at, "
    . "ends_at) VALUES ($owner, 'Slow', now(), now() + interval '1 day') RETURNING id") . '/games';
$gw = limited_gateway(QR_GATEWAY_DB => "host=$ENV{PGHOST} port=$ENV{PGPORT} dbname=$scratch user=postgres",
                      QR_GATEWAY_CACHE => 'off', QR_GATEWAY_DB_TIMEOUT_MS => 15000,
                      QR_GATEWAY_RATE_ANONYMOUS => '1000/s,burst=1000,concurrent=2');
sub blocked_backends {
    return psql($scratch, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        . "AND application_name = 'qr_gateway' AND wait_event_type = 'Lock' "
        . "AND query LIKE '%http_list_games%'");
}
for my $round (1, 2) {
    my $lock = QRTest::psql_session($scratch);
    $lock->run('BEGIN; LOCK TABLE qr_event.events, qr_event.games IN ACCESS EXCLUSIVE MODE;');
    wait_until(5, sub { psql($scratch, "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
        . "AND relation IN ('qr_event.events'::regclass, 'qr_event.games'::regclass) AND granted") == 2 })
        or BAIL_OUT('no lock');
    my @slow = map { $gw->start_request('GET', $slow_path, { from => '127.0.0.6' }) } 1, 2;
    ok wait_until(5, sub { blocked_backends() == 2 }),
        "round $round: two requests in flight, both admitted (no slot leaked)";
    my $res = call($gw, 'GET', '/api/openapi.json', from => '127.0.0.6');
    is $res->{status}, 429, "round $round: a third request of the same IP: 429";
    like $res->{json}{error}{message}, qr/too many requests in flight \(at most 2\)/,
        '... about requests in flight';
    is $res->{json}{error}{retryAfter}, 1, '... retryAfter 1';
    is $res->{headers}{'retry-after'}, '1', '... Retry-After 1';
    is $res->{headers}{'ratelimit-limit'}, '2', '... RateLimit-Limit is the cap';
    is $res->{headers}{'ratelimit-remaining'}, '0', '... RateLimit-Remaining 0';
    is call($gw, 'GET', '/api/openapi.json', from => '127.0.0.7')->{status}, 200,
        '... another IP is not capped';
    is call($gw, 'GET', '/healthz', from => '127.0.0.6')->{status}, 200, '... /healthz is not capped';
    $lock->close;
    is_deeply [map { $_->finish(10)->{status} } @slow], [200, 200],
        "round $round: the slow requests finish";
}
is_deeply [map { call($gw, 'GET', '/api/openapi.json', from => '127.0.0.6')->{status} } 1 .. 5],
    [(200) x 5], 'after them the IP passes again';
is $gw->metric('qr_gateway_rate_limited_total', tier => 'anonymous', scope => 'concurrency'), 2,
    'metrics: refusals by the cap counted under scope concurrency';
$gw->stop('TERM');

# --- 4: two gateways share the budget through Redis ----------------------------------------------
my %shared = (QR_GATEWAY_CACHE => 'off', QR_GATEWAY_RATE_LEADERBOARD => '10/s,burst=5');
my $gw1 = limited_gateway(%shared);
my $gw2 = limited_gateway(%shared);
my $board = "/api/games/$game/leaderboard";
($w, $one, $two) = flood(2, sub { call($gw1, 'GET', $board, from => '127.0.0.8') },
                        sub { call($gw2, 'GET', $board, from => '127.0.0.8') });
check_flood('one IP split across two gateways', $w, [@$one, @$two], 10, 5, 'leaderboard', 200);
ok scalar(grep { $_->{status} == 200 } @$one) && scalar(grep { $_->{status} == 200 } @$two),
    '... both gateways accepted some';

# --- 6: SCRIPT FLUSH between requests -----------------------------------------------------------------
$redis->cli('CONFIG', 'RESETSTAT');
my ($flushes, $last_flush) = (0, 0);
($w, $one) = flood(1.5, sub {
    if (time - $last_flush > 0.2) { $redis->cli('SCRIPT', 'FLUSH'); $flushes++; $last_flush = time; }
    return call($gw1, 'GET', $board, from => '127.0.0.9');
});
check_flood("SCRIPT FLUSH $flushes times during a flood", $w, $one, 10, 5, 'leaderboard', 200);
my ($evals) = $redis->cli('INFO', 'commandstats') =~ /^cmdstat_eval:calls=(\d+)/m;
cmp_ok $evals // 0, '>=', 1, '... the gateway loaded the script again with EVAL after NOSCRIPT';
cmp_ok $redis->cli('PTTL', 'qr:rl:leaderboard:ip:127.0.0.9'), '>', 0, '... and the limit lives in Redis';
is scalar(grep { ($_->{msg} // '') =~ /rate limit script failed/ } $gw1->log_lines), 0,
    '... no script failure logged';

# --- 5: Redis gone: the in-process limiter ------------------------------------------------------------
$redis->terminate;
($w, $one) = flood(1.5, sub { call($gw1, 'GET', $board, from => '127.0.0.10') });
check_flood('Redis down: in-process limit', $w, $one, 10, 5, 'leaderboard', 200);
cmp_ok max(map { $_->{ms} } @$one), '<', 1000, '... every request answered within 1 s';
ok scalar(grep { ($_->{msg} // '') =~ /redis/i } $gw1->log_lines), '... the gateway logged Redis failing';
is $gw1->get('/healthz')->{status}, 200, '... and is alive';

done_testing;
