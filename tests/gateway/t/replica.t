# Read replicas through the gateway, against the suite's real streaming replica
# (tests/harness/test.sh starts it with pg_basebackup -R): every GET route of a
# SQL function is served by the replica; writes go to the primary and answer
# QR-Write-LSN; QR-Read-After gives read-your-writes while the replica is behind;
# a replica that lags past replica_max_lag_ms, is down, or is not a standby is
# skipped and the primary answers; it serves again once it has recovered.
#
# The replica's replay is paused (pg_wal_replay_pause) to make it fall behind, and
# the replica is stopped and started again; the END block resumes and restarts it
# whatever happens, since later suites may use it. The gateways here run without
# the cache: what is tested is where each statement runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use JSON::PP ();
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway free_port wait_until);

my $db = 'qr_test';
my $tag = "replica$$";
my $password = 'correct horse battery';
plan skip_all => 'no replica (run through make test)' unless $ENV{QR_TEST_REPLICA_DB};

# --- the replica: psql and pg_ctl ---------------------------------------------------------
sub on_replica {
    my ($sql) = @_;
    local $ENV{PGPORT} = $ENV{QR_TEST_REPLICA_PORT};
    return psql($db, $sql);
}
sub replica_ctl {
    my ($action) = @_;
    my @cmd = ("$ENV{QR_TEST_PGBIN}/pg_ctl", '-D', $ENV{QR_TEST_REPLICA_DATA}, '-l',
               $ENV{QR_TEST_REPLICA_LOG}, '-w', '-t', '60', '-m', 'fast', $action);
    unshift @cmd, qw(runuser -u postgres --) if $> == 0;
    open my $saved, '>&', \*STDOUT or die "dup: $!";
    open STDOUT, '>', '/dev/null' or die "/dev/null: $!";
    my $ok = system(@cmd) == 0;
    open STDOUT, '>&', $saved or die "dup: $!";
    return $ok;
}
my $replica_stopped = 0;
END {
    local $?;
    replica_ctl('start') if $replica_stopped;
    eval { on_replica('SELECT pg_wal_replay_resume()') };
}

# --- fixtures -------------------------------------------------------------------------------
sub account {
    my ($name) = @_;
    return psql($db, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
        . literal("$name-$tag\@example.com") . ", " . literal($password) . ', ' . literal("$name $tag") . ')');
}
my $organiser = account('organiser');
my $door = account('door');

my $nowhere = "host=127.0.0.1 port=" . free_port() . " user=postgres dbname=$db connect_timeout=1";
# A: a long lag bound (30 s), so a paused replica keeps serving (stale) reads; a second
# replica that is never there.
my $gw = start_gateway(env => {
    QR_GATEWAY_CACHE => 'off',
    QR_GATEWAY_DB_REPLICAS => "$ENV{QR_TEST_REPLICA_DB},$nowhere",
    QR_GATEWAY_REPLICA_CHECK_MS => 50,
    QR_GATEWAY_REPLICA_MAX_LAG_MS => 30000,
});
sub call { my ($g, @rest) = @_; return $g->call(@rest) }
sub replicas { return call($_[0], 'GET', '/readyz')->{json}{data}{replicas} // [] }
sub state_is {
    my ($g, $i, $state) = @_;
    return wait_until(20, sub { (replicas($g)->[$i]{state} // '') eq $state });
}
sub from { return $_[0]->{headers}{'qr-read-from'} // 'none' }

ok state_is($gw, 0, 'ok'), 'the replica is judged usable';
ok state_is($gw, 1, 'down'), 'the replica that is not there is judged down';
is replicas($gw)->[1]{lag_ms}, undef, '... with no lag known';
my $log = join "\n", map { "$_->{msg} $_->{replica} $_->{to}" } grep { defined $_->{replica} } $gw->log_lines;
like $log, qr/read replica state changed 1 down/, 'the change of state is logged';

# --- writes: the primary, with QR-Write-LSN ----------------------------------------------------
my $res = call($gw, 'POST', '/api/auth/login', body => { email => "organiser-$tag\@example.com", password => $password });
my $org = $res->{json}{data}{token};
$res = call($gw, 'POST', '/api/events', token => $org,
            body => { name => "Replica $tag", starts_at => '2020-01-01T00:00:00Z', ends_at => '2099-01-01T00:00:00Z' });
is $res->{status}, 201, 'a write: 201';
like $res->{headers}{'qr-write-lsn'}, qr{^[0-9A-F]{1,8}/[0-9A-F]{1,8}$}, '... with QR-Write-LSN';
is from($res), 'none', '... and no QR-Read-From';
my $event = $res->{json}{data}{id};
my $lsn = $res->{headers}{'qr-write-lsn'};
is psql($db, "SELECT pg_current_wal_insert_lsn() >= " . literal($lsn) . '::pg_lsn'), 't',
    '... not beyond the primary\'s WAL';
$res = call($gw, 'POST', '/api/events', token => $org, body => { name => 'X', owner_id => 1 });
is $res->{status}, 400, 'a refused write: 400';
is $res->{headers}{'qr-write-lsn'}, undef, '... without QR-Write-LSN';

my $guest = call($gw, 'POST', "/api/events/$event/guests", token => $org,
                 body => { first_name => 'Rea', last_name => 'Lica' })->{json}{data}{id};
my $family = call($gw, 'POST', "/api/events/$event/families", token => $org, body => { name => 'Licas' })->{json}{data}{id};
my $game = call($gw, 'POST', "/api/events/$event/games", token => $org,
                body => { title => 'Darts', score_policy => 'best' })->{json}{data}{id};
psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
psql($db, "INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES ($event, $door, 'staff')");
my $qr = call($gw, 'POST', "/api/events/$event/guests/$guest/qr", token => $org)->{json}{data}{token};
my $dr = call($gw, 'POST', '/api/auth/login', body => { email => "door-$tag\@example.com", password => $password })
    ->{json}{data}{token};
is call($gw, 'POST', "/api/qr/$qr/scan", token => $dr, body => { gate => 'North' })->{json}{data}{reason},
    'accepted', 'the door scans through the primary';
my $gt = call($gw, 'POST', '/api/auth/guest', body => { qr_token => $qr })->{json}{data}{token};
$res = call($gw, 'POST', "/api/games/$game/play", token => $gt, body => { score => 42, completed => JSON::PP::true });
is $res->{status}, 200, 'the guest plays';
my $participation = $res->{json}{data}{participation_id} // $res->{json}{data}{id};
ok $participation, '... and has a participation';
$lsn = $res->{headers}{'qr-write-lsn'};

# --- every GET route from the replica ----------------------------------------------------------
my %reads = (
    '/api/events'                                        => ["/api/events", $org],
    '/api/events/{id}'                                   => ["/api/events/$event", $org],
    '/api/events/{id}/guests'                            => ["/api/events/$event/guests", $org],
    '/api/events/{id}/families'                          => ["/api/events/$event/families", $org],
    '/api/events/{id}/games'                             => ["/api/events/$event/games", undef],
    '/api/events/{id}/stats'                             => ["/api/events/$event/stats", $org],
    '/api/qr/{token}/history'                            => ["/api/qr/$qr/history", $dr],
    '/api/games/{id}/leaderboard'                        => ["/api/games/$game/leaderboard", undef],
    '/api/games/{id}/leaderboard/{participation_id}'     => ["/api/games/$game/leaderboard/$participation", undef],
);
my $doc = call($gw, 'GET', '/api/openapi.json')->{json};
my @get_routes = sort grep { $doc->{paths}{$_}{get} && $doc->{paths}{$_}{get}{'x-sql-function'} }
    keys %{ $doc->{paths} };
is_deeply [sort keys %reads], \@get_routes, 'the reads below are every GET route of a SQL function';
ok wait_until(20, sub { from(call($gw, 'GET', "/api/games/$game/leaderboard", after => $lsn)) eq 'replica' }),
    'once it has replayed the last write, the replica serves QR-Read-After reads';
for my $route (sort keys %reads) {
    my ($path, $token) = @{ $reads{$route} };
    $res = call($gw, 'GET', $path, token => $token, after => $lsn);
    is $res->{status}, 200, "GET $route: 200";
    is from($res), 'replica', '... from the replica';
}
$res = call($gw, 'GET', "/api/games/$game/leaderboard");
is $res->{json}{data}[0]{total_score}, 42, 'the replica has the score';
# The access line is written once the answer is out: wait for it.
my $access;
wait_until(5, sub {
    ($access) = grep { ($_->{request_id} // '') eq $res->{headers}{'x-request-id'} && $_->{msg} eq 'access' }
        $gw->log_lines;
    return $access;
});
is $access->{read_from}, 'replica', 'the access log line says where the read ran';
is call($gw, 'GET', '/api/events/999999999', token => $org)->{status}, 404, 'a missing row on the replica: 404';
is call($gw, 'GET', "/api/events/$event", token => $gt)->{status}, 403, 'authorisation on the replica: 403';
for my $bad ('zz', '1/', '0/0 ', '123456789/0', '1/2/3', '') {
    $res = call($gw, 'GET', "/api/events/$event", token => $org, after => $bad);
    is $res->{status}, 400, "QR-Read-After '$bad': 400";
}
like $res->{json}{error}{message}, qr/QR-Read-After must be an LSN/, '... saying what it must be';

# --- read-your-writes while the replica is behind -----------------------------------------------
on_replica('SELECT pg_wal_replay_pause()');
ok wait_until(10, sub { on_replica('SELECT pg_get_wal_replay_pause_state()') eq 'paused' }), 'replay paused';
$res = call($gw, 'POST', "/api/events/$event/guests", token => $org, body => { first_name => 'Newt' });
is $res->{status}, 201, 'a guest added on the primary';
my ($new_guest, $new_lsn) = ($res->{json}{data}{id}, $res->{headers}{'qr-write-lsn'});
my $names = sub { join ',', sort map { $_->{first_name} } @{ $_[0]->{json}{data} // [] } };
$res = call($gw, 'GET', "/api/events/$event/guests", token => $org);
is from($res), 'replica', 'a read without QR-Read-After: the (paused) replica';
is $names->($res), 'Rea', '... which has not seen the new guest';
$res = call($gw, 'GET', "/api/events/$event/guests", token => $org, after => $new_lsn);
is from($res), 'primary', 'the same read after the write\'s LSN: the primary';
is $names->($res), 'Newt,Rea', '... which has';
$res = call($gw, 'GET', "/api/events/$event/guests", token => $org, after => $lsn);
is from($res), 'replica', 'a read after an older LSN the replica has: the replica';
on_replica('SELECT pg_wal_replay_resume()');
ok wait_until(20, sub { from(call($gw, 'GET', "/api/events/$event/guests", token => $org, after => $new_lsn)) eq 'replica' }),
    'replay resumed: the replica serves the read after the write';
is $names->(call($gw, 'GET', "/api/events/$event/guests", token => $org, after => $new_lsn)), 'Newt,Rea',
    '... and has the new guest';

# --- lag beyond the bound; a replica that is the primary ---------------------------------------
# B: a short lag bound; its second "replica" is the primary itself, which is not a standby.
my $gb = start_gateway(env => {
    QR_GATEWAY_CACHE => 'off',
    QR_GATEWAY_DB_REPLICAS => "$ENV{QR_TEST_REPLICA_DB},$ENV{QR_TEST_DB}",
    QR_GATEWAY_REPLICA_CHECK_MS => 50,
    QR_GATEWAY_REPLICA_MAX_LAG_MS => 300,
});
ok state_is($gb, 0, 'ok'), 'B: the replica is usable';
ok state_is($gb, 1, 'not_standby'), 'B: the primary given as a replica is judged not a standby';
for (1 .. 5) {
    is from(call($gb, 'GET', "/api/games/$game/leaderboard")), 'replica', 'B: reads never go to the non-standby';
}
on_replica('SELECT pg_wal_replay_pause()');
call($gb, 'POST', "/api/events/$event/families", token => $org, body => { name => 'Laggards' });
ok state_is($gb, 0, 'lagging'), 'B: replay paused past 300 ms: lagging';
cmp_ok replicas($gb)->[0]{lag_ms}, '>', 300, '... with its lag shown';
$res = call($gb, 'GET', "/api/events/$event/families", token => $org);
is from($res), 'primary', 'B: a lagging replica is skipped';
is join(',', sort map { $_->{name} } @{ $res->{json}{data} }), 'Laggards,Licas', '... and the read is fresh';
is from(call($gw, 'GET', "/api/events/$event/families", token => $org)), 'replica',
    'A, with a 30 s bound, still reads from it';
on_replica('SELECT pg_wal_replay_resume()');
ok state_is($gb, 0, 'ok'), 'B: caught up: usable again';
is from(call($gb, 'GET', "/api/events/$event/families", token => $org)), 'replica', 'B: reads from it again';
$gb->stop;

# --- the replica down, then back ----------------------------------------------------------------
ok replica_ctl('stop'), 'the replica is stopped';
$replica_stopped = 1;
my @statuses = map { call($gw, 'GET', "/api/games/$game/leaderboard") } 1 .. 4;
is join(',', map { $_->{status} } @statuses), '200,200,200,200', 'reads still answer 200';
is join(',', map { from($_) } @statuses), 'primary,primary,primary,primary', '... from the primary';
cmp_ok((sort { $b <=> $a } map { $_->{ms} } @statuses)[0], '<', 2500, '... within the deadline');
ok state_is($gw, 0, 'down'), 'the replica is judged down';
ok replica_ctl('start'), 'the replica is started again';
$replica_stopped = 0;
ok state_is($gw, 0, 'ok'), 'it is usable again, without a gateway restart';
ok wait_until(20, sub { from(call($gw, 'GET', "/api/games/$game/leaderboard")) eq 'replica' }),
    'and serves reads again';

# --- without replicas: no routing headers -------------------------------------------------------
my $plain = start_gateway();
$res = call($plain, 'POST', "/api/events/$event/families", token => $org, body => { name => 'Plain' });
is $res->{status}, 201, 'without replicas, a write: 201';
is $res->{headers}{'qr-write-lsn'}, undef, '... without QR-Write-LSN';
$res = call($plain, 'GET', "/api/events/$event/families", token => $org, after => '0/0');
is from($res), 'none', '... and reads without QR-Read-From';
is call($plain, 'GET', "/api/events/$event", token => $org, after => 'zz')->{status}, 400,
    '... yet a malformed QR-Read-After is still 400';
ok !exists call($plain, 'GET', '/readyz')->{json}{data}{replicas}, '/readyz lists no replicas';

is $gw->stop, 0, 'A stops cleanly';
done_testing;
