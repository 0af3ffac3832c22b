# Hostile input at the edges of the gateway, beyond what tests/gateway/t/errors.t (unknown
# paths and methods, body size caps, TE+CL, junk request lines) and api.t (one bad limit,
# one form body, one malformed JSON) cover:
#   - request heads: one huge header value, a huge name, too many headers (and the body
#     that a dropped Content-Length would turn into a second request), very long request
#     lines, URLs, methods and versions, a head or body that never completes;
#   - every list route: limits past qr_event.max_page_size, and non-numeric, negative,
#     fractional, padded and overflowing limit and cursor values; forged, tampered and
#     foreign cursors; the neighbours' radius;
#   - every write route: bodies that are not application/json in UTF-8 (415), and bodies
#     that are not one JSON object: malformed, deeply nested, invalid UTF-8, NUL bytes,
#     arrays and scalars, a field named twice (400).
# Each answer is a 4xx JSON error envelope, promptly, never a 5xx; nothing refused writes
# anything; the gateway is alive and answers /healthz at the end. Routes come from the
# gateway's own OpenAPI document (GET /api/openapi.json): POST operations are the write
# routes, and GET operations of a SQL function that answer with pagination the list routes,
# so a new route is covered without editing this file.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);
use QRAuthz;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $db = 'qr_test';
my $m = QRAuthz->new(db => $db, tag => "limits$$");
my $f = $m->f;
my $acc = $m->acc;
# a second row in every list, so that each has a cursor of its own
psql($db, "INSERT INTO qr_event.families (event_id, name) VALUES ($f->{event1}, 'Fam 1b')");
psql($db, "INSERT INTO qr_event.games (event_id, title, score_policy) VALUES ($f->{event1}, 'Game 1b', 'sum')");
psql($db, "INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES ($acc->{org1}, 'Limits 1b', now(), now() + interval '1 day')");
psql($db, "SELECT qr_event.record_play($f->{game1}, $f->{b_guest1}, NULL, 50, true)");
psql($db, "SELECT qr_event.scan_qr(" . literal($f->{scan_qr1}) . ", 'West', 'limits')");
my $max_page = psql($db, "LOAD 'qr_event'; SELECT current_setting('qr_event.max_page_size')");

# A short request timeout: a head or body that never completes is dropped after it.
my $timeout_ms = 1500;
my $gw = start_gateway(env => { QR_GATEWAY_REQUEST_TIMEOUT_MS => $timeout_ms });
my $signed = $m->sign_in($gw);
$signed->{$_}{status} == 200 or BAIL_OUT("$_ cannot sign in: $signed->{$_}{content}") for qw(org1 guestA);

# Everything the refused requests could have written, as one text.
sub state {
    my $e = $f->{event1};
    return psql($db, "SELECT concat_ws(' / ',"
        . " (SELECT count(*) FROM qr_event.guests WHERE event_id = $e),"
        . " (SELECT count(*) FROM qr_event.families WHERE event_id = $e),"
        . " (SELECT count(*) FROM qr_event.games WHERE event_id = $e),"
        . " (SELECT string_agg(id || ':' || status || ':' || version, ',' ORDER BY id) FROM qr_event.qr_codes WHERE event_id = $e),"
        . " (SELECT count(*) FROM qr_event.qr_code_events WHERE event_id = $e),"
        . " (SELECT string_agg(id || ':' || total_score, ',' ORDER BY id) FROM qr_event.game_participations WHERE event_id = $e),"
        . " (SELECT count(*) FROM qr_event.events WHERE owner_id = $acc->{org1}))");
}
my $state_before = state();

# "<status> <error code>" of an answer, for one comparison per case.
sub verdict {
    my ($res) = @_;
    my $json = $res->{json};
    my $code = ref $json eq 'HASH' && ref $json->{error} eq 'HASH' && !$json->{success} ? $json->{error}{code} : 'no-error-envelope';
    return ($res->{status} // '?') . " $code";
}

# --- the routes, from the OpenAPI document -----------------------------------------------------------
my $doc = $gw->get('/api/openapi.json')->{json};
ok ref $doc eq 'HASH' && ref $doc->{paths} eq 'HASH', 'the OpenAPI document is served' or BAIL_OUT('no OpenAPI document');

# A path parameter's fixture, by the segment before it; a route with a parameter this
# does not know fails here, to be given one.
my %fixture = (events => $f->{event1}, guests => $f->{issue_guest1}, games => $f->{game1},
               leaderboard => $f->{part1}, qr => $f->{scan_qr1});
sub url_of {
    my ($path) = @_;
    my @seg = split m{/}, $path;
    for my $i (1 .. $#seg) {
        next unless $seg[$i] =~ /^\{\w+\}$/;
        defined(my $v = $fixture{ $seg[ $i - 1 ] }) or return undef;
        $seg[$i] = $v;
    }
    return join '/', @seg;
}
# The token a route wants: a guest's, an account's (the organiser of event 1) or none.
sub token_of {
    my ($op) = @_;
    return undef unless $op->{security};
    return $m->token(($op->{'x-caller'} // '') eq 'guest' ? 'guestA' : 'org1');
}

my (@writes, @lists);
for my $path (sort keys %{ $doc->{paths} }) {
    for my $method (sort keys %{ $doc->{paths}{$path} }) {
        my $op = $doc->{paths}{$path}{$method};
        my $url = url_of($path);
        ok defined $url, uc($method) . " $path: every path parameter has a fixture" or next;
        my $route = { name => uc($method) . " $path", url => $url, token => token_of($op) };
        if ($method eq 'post') {
            push @writes, $route;
        }
        elsif ($method eq 'get' && $op->{'x-sql-function'}) {
            my $res = $gw->call('GET', "$url?limit=1", token => $route->{token});
            next unless $res->{status} == 200 && ref $res->{json}{pagination} eq 'HASH';
            $route->{cursor} = $res->{json}{pagination}{cursor};
            push @lists, $route;
        }
    }
}
my %is_list = map { ($_->{name} => 1) } @lists;
ok !(grep { !$is_list{$_} } 'GET /api/events', 'GET /api/events/{id}/guests', 'GET /api/events/{id}/families',
     'GET /api/events/{id}/games', 'GET /api/qr/{token}/history', 'GET /api/games/{id}/leaderboard'),
    'the list routes are found: ' . join(', ', map { $_->{name} } @lists);
cmp_ok scalar(@writes), '>=', 10, 'the write routes are found: ' . join(', ', map { $_->{name} } @writes);
ok defined $_->{cursor}, "$_->{name}: a page of 1 has a cursor to the next" for @lists;

# --- list routes: limit and cursor ---------------------------------------------------------------------
my @bad_limits = ($max_page + 1, 1000000, 0, -1, '-0', 'abc', '1.5', '1e3', '0x10', '', '%205', '5%20', '%2B5',
                  '99999999999999999999', '2147483648', '9223372036854775808', '-9223372036854775809',
                  '%D9%A3', 'null', 'true', '%5B1%5D', '1,2');
my @bad_cursors = ('x', '', '!!!', 'AAAA', '-1', '0', '99999999999999999999', 'A' x 1500, '%C3%A9', '%22%22',
                   'null', '%7B%7D');
for my $l (@lists) {
    my ($name, $url, $token) = @$l{qw(name url token)};
    is $gw->call('GET', "$url?limit=$max_page", token => $token)->{status}, 200, "$name: limit=$max_page (the largest page) is served";
    for my $v (@bad_limits) {
        my $res = $gw->call('GET', "$url?limit=$v", token => $token);
        is verdict($res), '400 bad_request', "$name: limit=$v is refused";
        like $res->{json}{error}{message} // '', qr/limit|page_size/, "$name: limit=$v: the message names the limit";
    }
    for my $v ('5%00', '%FF', '%', '%G0') {
        is verdict($gw->call('GET', "$url?limit=$v", token => $token)), '400 bad_request', "$name: limit=$v (not a query value) is refused";
    }
    for my $v (@bad_cursors) {
        my $res = $gw->call('GET', "$url?cursor=$v", token => $token);
        is verdict($res), '400 bad_request', "$name: cursor=" . substr($v, 0, 20) . ' is refused';
    }
    is $gw->call('GET', "$url?limit=1&cursor=$l->{cursor}", token => $token)->{status}, 200, "$name: its own cursor works";
    (my $tampered = $l->{cursor}) =~ s/^(.{10})(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
    my $res = $gw->call('GET', "$url?cursor=$tampered", token => $token);
    is verdict($res), '400 bad_request', "$name: a tampered cursor is refused";
    like $res->{json}{error}{message} // '', qr/cursor/, "$name: ... as an invalid cursor";
    # A cursor may be 4,096 characters: one that long reaches the cursor check, not a
    # cap of the query string; one longer is refused as too long.
    for my $len (4096, 4097) {
        $res = $gw->call('GET', "$url?limit=1&cursor=" . ('A' x $len), token => $token);
        is verdict($res), '400 bad_request', "$name: a cursor of $len characters is refused";
        like $res->{json}{error}{message} // '', qr/cursor/, "$name: ... by the cursor check";
    }
    for my $other (grep { $_ != $l } @lists) {
        $res = $gw->call('GET', "$url?cursor=$other->{cursor}", token => $token);
        is verdict($res), '400 bad_request', "$name: the cursor of $other->{name} is refused";
    }
}
# the neighbours of a participation: radius is a whole number from 0 to 50
{
    my $url = url_of('/api/games/{id}/leaderboard/{participation_id}');
    is $gw->call('GET', "$url?radius=50")->{status}, 200, 'radius=50 is served';
    for my $v (-1, 51, 'abc', '1.5', '', '99999999999999999999', '%2B1') {
        my $res = $gw->call('GET', "$url?radius=$v");
        is verdict($res), '400 bad_request', "radius=$v is refused";
    }
}

# --- write routes: content types and bodies -------------------------------------------------------------------
# A body the database would refuse (an unknown field), so that a content type let through
# shows as a 400 of the database instead of the 415, and nothing is written.
my $refused_body = '{"no_such_field":1}';
my @bad_types = ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xYz',
                 'application/json; charset=iso-8859-1', 'application/json; charset=utf-16',
                 'application/json;charset="latin1"', 'application/json; charset=utf-8x', 'text/json',
                 'application/jsonx', 'application/json-patch+json', 'application/x-json', 'json', '*/*');
my @good_types = ('application/json', 'application/json; charset=utf-8', 'Application/JSON;Charset="UTF-8"');
my @bad_bodies = (
    ['{"no_such_field":', 'truncated JSON'], ['{', 'an open brace'], ['}', 'a close brace'],
    ["{'a':1}", 'single quotes'], ['{"a":1,}', 'a trailing comma'], ['{"a" 1}', 'a missing colon'],
    ['{"a":1} x', 'text after the object'], ['{"a":1}{"b":2}', 'two objects'], ['   ', 'only spaces'],
    ['{"no_such_field":1e999999}', 'an overflowing number'], ['{"a":tru}', 'a bad literal'],
    ['{"a":"\u00"}', 'a bad escape'], ['{"a":"\ud800"}', 'a lone surrogate escape'],
    [('{"a":' x 100) . '1' . ('}' x 100), 'objects nested 100 deep'],
    [('{"a":' x 20000) . '1' . ('}' x 20000), 'objects nested 20000 deep'],
    ['{"a":' . ('[' x 100000) . (']' x 100000) . '}', 'arrays nested 100000 deep in an object'],
    ['[' x 100000, 'unclosed arrays 100000 deep'],
    ["{\"a\":\"\xff\"}", 'the byte FF'], ["{\"a\":\"\xc0\xaf\"}", 'an overlong UTF-8 sequence'],
    ["{\"a\":\"\xed\xa0\x80\"}", 'a UTF-8 encoded surrogate'], ["{\"a\":\"\xe2\x82\"}", 'a truncated UTF-8 sequence'],
    ["\xef\xbb\xbf\xff{}", 'a BOM and a bad byte'], ["{}\0", 'a NUL byte after the object'],
    ["\0{}", 'a NUL byte first'], ["{\"a\":\"b\0c\"}", 'a NUL byte in a string'],
    ['[]', 'an array'], ['[{"no_such_field":1}]', 'an array of an object'], ['"x"', 'a string'],
    ['1', 'a number'], ['true', 'true'], ['null', 'null'], [' null ', 'null in spaces'],
);
for my $w (@writes) {
    my ($name, $url, $token) = @$w{qw(name url token)};
    for my $type (@bad_types) {
        my $res = $gw->call('POST', $url, token => $token, body => $refused_body, type => $type);
        is verdict($res), '415 unsupported_media_type', "$name: Content-Type $type is refused";
    }
    my $res = $gw->request('POST', $url, { content => $refused_body,
                                          headers => { $token ? (Authorization => "Bearer $token") : () } });
    is verdict($res), '415 unsupported_media_type', "$name: a body without a Content-Type is refused";
    for my $type (@good_types) {
        $res = $gw->call('POST', $url, token => $token, body => $refused_body, type => $type);
        is verdict($res), '400 bad_request', "$name: Content-Type $type is read (then the unknown field refused)";
    }
    for my $b (@bad_bodies) {
        $res = $gw->call('POST', $url, token => $token, body => $b->[0]);
        is verdict($res), '400 bad_request', "$name: a body of $b->[1] is refused"
            or diag substr($res->{content} // '', 0, 300);
    }
}
# A NUL byte does not end the body: what follows it is not silently dropped.
{
    my $res = $gw->call('POST', "/api/events/$f->{event1}/families", token => $m->token('org1'),
                        body => qq({"name":"Cut $$"}\0{"name":"the rest"}));
    is verdict($res), '400 bad_request', 'a valid object, a NUL byte and more: refused';
    is psql($db, 'SELECT count(*) FROM qr_event.families WHERE name = ' . literal("Cut $$")), 0, '... and nothing is written';
}
# A field named twice, however spelt: jsonb would keep the last, another reader the first.
for my $body (qq({"name":"Twice A $$","name":"Twice B $$"}), qq({"name":"Twice A $$","\\u006eame":"Twice B $$"})) {
    my $res = $gw->call('POST', "/api/events/$f->{event1}/families", token => $m->token('org1'), body => $body);
    is verdict($res), '400 bad_request', "a field named twice ($body): refused";
    like $res->{json}{error}{message} // '', qr/twice/, '... as named twice';
}
is psql($db, "SELECT count(*) FROM qr_event.families WHERE name LIKE 'Twice % $$'"), 0, '... and nothing is written';
is verdict($gw->call('POST', '/api/auth/login', body => '{"email":"a@b.test","password":"x","email":"c@d.test"}')),
    '400 bad_request', 'a login naming the email twice: refused';

# --- request heads ---------------------------------------------------------------------------------------------
# Sends raw bytes; one answer, a 4xx JSON error, must come and the connection close within
# $o{within} seconds (2), reading for at most $o{wait} (3).
sub raw_refused {
    my ($bytes, $name, %o) = @_;
    my $t0 = time;
    my @res = QRTest::Gateway::parse_all($gw->raw($bytes, $o{wait} // 3));
    my $s = time - $t0;
    my $first = $res[0] // {};
    is scalar(@res), 1, "$name: one answer" or diag explain [map { "$_->{status} $_->{content}" } @res];
    like verdict($first), qr/^4\d\d (?!no-error-envelope)\w+$/, "$name: a 4xx JSON error (" . verdict($first) . ')';
    cmp_ok $s, '<', $o{within} // 2, "$name: answered and closed in " . sprintf('%.2f s', $s);
    return $first;
}
my $head = "Host: 127.0.0.1\r\nConnection: close\r\n";
raw_refused("GET /healthz HTTP/1.1\r\n${head}X-Big: " . ('v' x 20000) . "\r\n\r\n", 'a header value of 20 KB');
raw_refused("GET /api/events HTTP/1.1\r\n${head}Authorization: Bearer " . ('v' x 20000) . "\r\n\r\n", 'a bearer token of 20 KB');
raw_refused("GET /healthz HTTP/1.1\r\n${head}Cookie: " . ('c' x 1000000) . "\r\n\r\n", 'a cookie of 1 MB');
raw_refused("GET /healthz HTTP/1.1\r\n$head" . ('N' x 20000) . ": v\r\n\r\n", 'a header name of 20 KB');
raw_refused("GET /api/events?x=" . ('a' x 20000) . " HTTP/1.1\r\n$head\r\n", 'a URL of 20 KB');
raw_refused("GET /" . ('a' x 16370) . " HTTP/1.1\r\n$head\r\n", 'a request line of 16 KB');
raw_refused("GET /api/" . ('a' x 15000) . " HTTP/1.1\r\n$head\r\n", 'a path of 15 KB');
raw_refused("GET /api/events/$f->{event1}/games?limit=" . ('1' x 15000) . " HTTP/1.1\r\n$head\r\n", 'a query string of 15 KB');
raw_refused(('X' x 1000) . " /healthz HTTP/1.1\r\n$head\r\n", 'a method of 1000 characters');
raw_refused("GET /healthz HTTP/1." . ('1' x 1000) . "\r\n$head\r\n", 'an HTTP version of 1000 characters');
raw_refused("GET /healthz HTTP/1.1\r\n$head" . join('', map { "X-H$_: v\r\n" } 1 .. 1000) . "\r\n", '1000 headers');
my $res = raw_refused("GET /healthz HTTP/1.1\r\n$head" . join('', map { "X-H$_: v\r\n" } 1 .. 62) . "\r\n", '64 headers');
like $res->{json}{error}{message} // '', qr/too many request headers/, '... as too many headers';
is QRTest::Gateway::parse_raw($gw->raw("GET /healthz HTTP/1.1\r\n$head" . join('', map { "X-H$_: v\r\n" } 1 .. 61) . "\r\n"))->{status},
    200, '63 headers are served';
is QRTest::Gateway::parse_raw($gw->raw("GET /healthz HTTP/1.1\r\n${head}X-Big: " . ('v' x 15000) . "\r\n\r\n"))->{status},
    200, 'a header value of 15 KB (under the 16 KB head) is served';

# civetweb keeps the first 64 headers and drops the rest unseen: a Content-Length or
# Transfer-Encoding among them would leave the body to be read as a request of its own.
my $smuggled = "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
my $junk = join '', map { "X-H$_: v\r\n" } 1 .. 70;
raw_refused("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${junk}Content-Length: " . length($smuggled) . "\r\n\r\n$smuggled",
            'a Content-Length after 70 headers: the body is not a second request');
raw_refused("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${junk}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n$smuggled",
            'a Transfer-Encoding after 70 headers: nothing after it is a second request');

# A line folded onto the one before it (obs-fold, RFC 9112 §5.2) must be refused or read
# as part of that line; civetweb 1.15 ends the headers there and drops every later one,
# a Content-Length included, so the body is served as a request of its own.
TODO: {
    local $TODO = 'civetweb drops every header after an obs-fold line (request smuggling behind a proxy that unfolds)';
    my @r = QRTest::Gateway::parse_all($gw->raw("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n"
                                                . 'Content-Length: ' . length($smuggled) . "\r\n\r\n$smuggled", 2));
    is_deeply [map { $_->{status} } @r], [400], 'a Content-Length after an obs-fold line: one answer, a 400';
}

# Heads and bodies that never complete are dropped after the request timeout, with an answer.
my $wait = 2 * $timeout_ms / 1000 + 3;
raw_refused("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", 'a head that never ends',
            wait => $wait, within => $wait);
raw_refused("POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            . "Content-Length: 100\r\n\r\n{\"email\":", 'a body shorter than its Content-Length', wait => $wait, within => $wait);

# --- afterwards ----------------------------------------------------------------------------------------------------
is state(), $state_before, 'no refused request wrote anything';
ok $gw->alive, 'the gateway is still running';
is $gw->get('/healthz')->{status}, 200, 'and answers /healthz';
is $gw->server_errors, 0, 'its metrics count no 5xx answer';
is_deeply [map { $_->{msg} } grep { ($_->{level} // '') eq 'error' && ($_->{source} // '') ne 'civetweb' } $gw->log_lines],
    [], 'its log has no error (but civetweb\'s complaints about malformed requests)';

done_testing;
