# Liveness and readiness with Postgres and Redis up; envelopes, request ids, access log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use QRTest qw(start_gateway);

my $gw = start_gateway();

my $res = $gw->get('/healthz');
is $res->{status}, 200, 'healthz answers 200';
like $res->{headers}{'content-type'}, qr{^application/json}, 'as JSON';
ok $res->{json}{success}, 'success envelope';
is $res->{json}{data}{status}, 'ok', 'data.status is ok';
like $res->{json}{meta}{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'meta.timestamp is RFC 3339 UTC with milliseconds';
like $res->{json}{meta}{request_id}, qr/^[0-9a-f]{32}$/, 'a generated request id';
is $res->{headers}{'x-request-id'}, $res->{json}{meta}{request_id},
    'X-Request-Id header matches meta.request_id';

my $again = $gw->get('/healthz');
isnt $again->{json}{meta}{request_id}, $res->{json}{meta}{request_id}, 'request ids differ';

$res = $gw->get('/healthz', { headers => { 'X-Request-Id' => 'client-abc.123_X' } });
is $res->{json}{meta}{request_id}, 'client-abc.123_X', 'a well-formed client request id is kept';
$res = $gw->get('/healthz', { headers => { 'X-Request-Id' => 'bad id"{}' } });
like $res->{json}{meta}{request_id}, qr/^[0-9a-f]{32}$/, 'a malformed one is replaced';
$res = $gw->get('/healthz', { headers => { 'X-Request-Id' => 'a' x 65 } });
like $res->{json}{meta}{request_id}, qr/^[0-9a-f]{32}$/, 'an over-long one is replaced';

$res = $gw->get('/readyz');
is $res->{status}, 200, 'readyz answers 200 with both servers up';
is $res->{json}{data}{status}, 'ready', 'data.status is ready';
ok $res->{json}{data}{checks}{postgres}{ok}, 'postgres check ok';
ok $res->{json}{data}{checks}{redis}{ok}, 'redis check ok';
cmp_ok $res->{json}{data}{checks}{postgres}{ms}, '>=', 0, 'postgres latency reported';

# Keep-alive: several requests on one connection are all answered.
my $reply = $gw->raw(join('', map { "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" } 1 .. 3)
    . "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
my @statuses = map { $_->{status} } QRTest::Gateway::parse_all($reply);
is_deeply \@statuses, [200, 200, 200, 200], 'four requests on one keep-alive connection';

my @access = grep { ($_->{msg} // '') eq 'access' } $gw->log_lines;
my ($line) = grep { ($_->{request_id} // '') eq 'client-abc.123_X' } @access;
ok $line, 'an access-log line carries the request id';
is $line->{method}, 'GET', 'access log: method';
is $line->{path}, '/healthz', 'access log: path';
is $line->{status}, 200, 'access log: status';
ok defined $line->{duration_ms}, 'access log: duration';
like $line->{ts}, qr/^\d{4}-\d\d-\d\dT/, 'access log: timestamp';
cmp_ok scalar(@access), '>=', 10, 'one access-log line per request';

is $gw->stop('TERM'), 0, 'SIGTERM stops the gateway with status 0';
done_testing;
