# The REST flow through the gateway against real Postgres and Redis: an organiser logs
# in, creates an event, adds a guest and a game, issues the guest's QR code; the door
# staff scans it twice; the guest exchanges the code for a guest token and plays; anyone
# reads the leaderboard. Each step also meets its refusals: bad credentials, missing
# or wrong kind of token, another organiser's event (404, as for a missing one),
# unknown body fields, wrong content type, malformed JSON, bad query strings.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use JSON::PP ();
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $db = 'qr_test';
my $tag = "api$$";
sub account {
    my ($name) = @_;
    return psql($db, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
        . literal("$name-$tag\@example.com") . ", 'correct horse battery', " . literal($name) . ')');
}
my $organiser = account('organiser');
my $other = account('other');
my $door = account('door');

my $gw = start_gateway();
sub call { return $gw->call(@_) }
sub login {
    my ($name) = @_;
    my $res = call('POST', '/api/auth/login',
                   body => { email => "$name-$tag\@example.com", password => 'correct horse battery' });
    is $res->{status}, 200, "$name logs in";
    return $res->{json}{data}{token};
}

# --- login ---------------------------------------------------------------------------
my $res = call('POST', '/api/auth/login', body => { email => "organiser-$tag\@example.com", password => 'wrong password!' });
is $res->{status}, 401, 'a wrong password: 401';
is $res->{json}{error}{message}, 'invalid email or password', '... with one message for both';
is call('POST', '/api/auth/login', body => { email => "nobody-$tag\@example.com", password => 'correct horse battery' })->{status},
    401, 'an unknown email: 401';
is call('POST', '/api/auth/login', body => 'email=x', type => 'application/x-www-form-urlencoded')->{status}, 415,
    'a form body: 415';
is call('POST', '/api/auth/login', body => '{"email":')->{status}, 400, 'malformed JSON: 400';
my $org = login('organiser');
like $org, qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT';
my $oth = login('other');

# --- events ----------------------------------------------------------------------------
is call('GET', '/api/events')->{status}, 401, 'GET /api/events without a token: 401';
$res = call('POST', '/api/events', token => $org,
            body => { name => 'Gala', venue => 'Hall', starts_at => '2020-01-01T18:00:00Z', ends_at => '2099-01-01T00:00:00Z' });
is $res->{status}, 201, 'an organiser creates an event: 201';
my $event = $res->{json}{data}{id};
like $event, qr/^\d+$/, '... and gets its id';
is call('POST', '/api/events', token => $org, body => { name => 'X', starts_at => '2020-01-01T00:00:00Z',
    ends_at => '2020-01-02T00:00:00Z', owner_id => 1 })->{status}, 400, 'an unknown field (owner_id): 400';
$res = call('GET', '/api/events', token => $org);
is $res->{status}, 200, 'the organiser lists events';
ok scalar(grep { ($_->{event_id} // $_->{id} // 0) == $event } @{ $res->{json}{data} }), '... including the new one';
ok exists $res->{json}{pagination}, '... with pagination';
is call('GET', '/api/events?limit=abc', token => $org)->{status}, 400, 'a bad limit: 400';
is call('GET', '/api/events?limit=1&limit=2', token => $org)->{status}, 400, 'a repeated query parameter: 400';
is call('GET', "/api/events/$event", token => $org)->{status}, 200, 'the organiser reads the event';
is call('GET', "/api/events/$event", token => $oth)->{status}, 404, 'another organiser: 404';
is call('GET', '/api/events/999999999', token => $org)->{status}, 404, 'a missing event: 404';
is call('GET', '/api/events/0', token => $org)->{status}, 404, 'id 0 is no id: 404';

# --- guests, game, QR --------------------------------------------------------------------
$res = call('POST', "/api/events/$event/guests", token => $org, body => { first_name => 'Ann', last_name => 'Archer' });
is $res->{status}, 201, 'the organiser adds a guest';
my $guest = $res->{json}{data}{id};
is call('POST', "/api/events/$event/guests", token => $oth, body => { first_name => 'Eve' })->{status}, 404,
    'another organiser cannot add guests: 404';
$res = call('POST', "/api/events/$event/games", token => $org, body => { title => 'Darts', score_policy => 'best' });
is $res->{status}, 201, 'the organiser adds a game';
my $game = $res->{json}{data}{id};
psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
$res = call('POST', "/api/events/$event/guests/$guest/qr", token => $org);
is $res->{status}, 201, 'the organiser issues the guest a QR code';
my $qr = $res->{json}{data}{token};
like $qr, qr/^[A-Za-z0-9_-]{22,}$/, '... and gets its token';

# --- the door ---------------------------------------------------------------------------
psql($db, "INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES ($event, $door, 'staff')");
my $dr = login('door');
$res = call('POST', "/api/qr/$qr/scan", token => $dr, body => { gate => 'North', device => 'scanner-1' });
is $res->{status}, 200, 'the door scans';
is $res->{json}{data}{reason}, 'accepted', '... accepted';
$res = call('POST', "/api/qr/$qr/scan", token => $dr, body => { gate => 'South' });
is $res->{json}{data}{reason}, 'already_used', 'the second scan: already_used';
is $res->{json}{data}{first_scan_gate}, 'North', '... with the first gate';
is call('POST', "/api/qr/$qr/scan", token => $dr, body => { gate => 'North', color => 'red' })->{status}, 400,
    'an unknown scan field: 400';
$res = call('GET', "/api/qr/$qr/history?limit=2", token => $dr);
is $res->{status}, 200, 'the door reads the history';
is scalar @{ $res->{json}{data} }, 2, '... a page of 2';
is call('GET', "/api/qr/$qr/history", token => $oth)->{status}, 404, 'another organiser: 404';

# --- the guest plays ---------------------------------------------------------------------
$res = call('POST', '/api/auth/guest', body => { qr_token => $qr });
is $res->{status}, 200, 'the guest exchanges the QR token';
my $gt = $res->{json}{data}{token};
is $res->{json}{data}{role}, 'guest', '... for a guest token';
is call('POST', '/api/auth/guest', body => { qr_token => 'no-such-token-of-22-chars' })->{status}, 401,
    'an unknown QR token: 401';
$res = call('POST', "/api/games/$game/play", token => $gt, body => { score => 42, completed => JSON::PP::true });
is $res->{status}, 200, 'the guest plays';
is $res->{json}{data}{total_score}, 42, '... and scores';
is call('POST', "/api/games/$game/play", token => $org, body => { score => 1 })->{status}, 403,
    'an account token on a guest route: 403';
is call('POST', "/api/games/$game/play")->{status}, 401, 'no token on a guest route: 401';
is call('POST', "/api/games/$game/play", token => $gt, body => { score => -1 })->{status}, 400,
    'a score out of range: 400';
is call('GET', "/api/events/$event", token => $gt)->{status}, 403, 'a guest token on an account route: 403';

# --- the leaderboard, public ---------------------------------------------------------------
$res = call('GET', "/api/games/$game/leaderboard?limit=10");
is $res->{status}, 200, 'anyone reads the leaderboard';
is $res->{json}{data}[0]{display_name}, 'Ann Archer', '... with names';
is $res->{json}{data}[0]{rank}, 1, '... and ranks';
is call('GET', "/api/games/$game/leaderboard?rank_mode=best")->{status}, 400, 'a bad rank_mode: 400';
is call('GET', '/api/games/999999999/leaderboard')->{status}, 404, 'a missing game: 404';

done_testing;
