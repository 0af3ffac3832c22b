# Every error is a JSON envelope: unknown paths and methods, oversized bodies,
# Transfer-Encoding together with Content-Length, and garbage that must not crash.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use QRTest qw(start_gateway);

my $max = 4096;
my $gw = start_gateway(env => { QR_GATEWAY_MAX_BODY_BYTES => $max });

# Checks the error envelope of a response.
sub error_is {
    my ($res, $status, $code, $name) = @_;
    is $res->{status}, $status, "$name: status $status";
    like $res->{headers}{'content-type'} // '', qr{^application/json}, "$name: JSON";
    ok defined $res->{json} && !$res->{json}{success}, "$name: error envelope";
    is $res->{json}{error}{code}, $code, "$name: code $code";
    ok length($res->{json}{error}{message} // ''), "$name: a message";
    ok $res->{json}{meta}{request_id}, "$name: meta.request_id";
}

for my $path ('/', '/nope', '/api', '/api/events/abc', '/healthz/', '/healthz/x', '//healthz',
              '/%00', '/..%2f..%2fetc/passwd', '/' . ('a' x 2000)) {
    error_is($gw->get($path), 404, 'not_found', "GET $path");
}

my $res = $gw->request('POST', '/healthz', { content => '{}',
                                             headers => { 'Content-Type' => 'application/json' } });
error_is($res, 405, 'method_not_allowed', 'POST /healthz');
like $res->{headers}{allow} // '', qr/\bGET\b/, '405 carries Allow: GET';
error_is($gw->request('DELETE', '/readyz'), 405, 'method_not_allowed', 'DELETE /readyz');

# Content-Length over the cap: refused before the body is read.
my $r = QRTest::Gateway::parse_raw($gw->raw(
    "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    . "Content-Length: 2000000\r\n\r\n{"));
error_is($r, 413, 'payload_too_large', 'Content-Length over the cap');

$res = $gw->request('POST', '/healthz', { content => 'x' x ($max + 1) });
error_is($res, 413, 'payload_too_large', 'a body one byte over the cap');
$res = $gw->request('POST', '/nope', { content => 'x' x $max });
error_is($res, 404, 'not_found', 'a body exactly at the cap is read, then 404');

# Chunked bodies are capped while reading.
my $chunk = sprintf("%x\r\n%s\r\n", 1000, 'y' x 1000);
$r = QRTest::Gateway::parse_raw($gw->raw(
    "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    . ($chunk x 5) . "0\r\n\r\n"));
ok $r->{status} == 413 || $r->{status} == 405, 'a chunked body over the cap is refused';
is $r->{json}{success}, JSON::PP::false(), '... with a JSON error';

# Request smuggling shape: both framing headers.
$r = QRTest::Gateway::parse_raw($gw->raw(
    "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
error_is($r, 400, 'bad_request', 'Transfer-Encoding with Content-Length');
$r = QRTest::Gateway::parse_raw($gw->raw(
    "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
is $r->{status}, 400, 'TE+CL on a GET is refused too';
unlike $r->{content} // '', qr{HTTP/1\.1 404}, 'and the smuggled request is not served';

# Requests civetweb itself refuses still get a JSON 4xx, and never crash the gateway.
my @junk = (
    ["\x00\x01\x02\r\n\r\n", 'binary junk'],
    ["GET\r\n\r\n", 'a request line without a target'],
    ["GET / HTTP/9.9\r\n\r\n", 'an unknown HTTP version'],
    ["GET /healthz HTTP/1.1\r\n" . ("X-A: " . ('b' x 100) . "\r\n") x 400 . "\r\n",
     'headers over 16 KB'],
    ["POST /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 'a negative Content-Length'],
    ["POST /healthz HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
     'an overflowing Content-Length'],
    ["POST /healthz HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 'an unknown transfer coding'],
    ["POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 'a bad chunk size'],
);
for my $case (@junk) {
    my ($bytes, $name) = @$case;
    my $r = QRTest::Gateway::parse_raw($gw->raw($bytes, 2));
    ok defined $r->{status} && $r->{status} >= 400 && $r->{status} < 500, "$name: a 4xx"
        or diag explain $r;
    ok $r->{json} && !$r->{json}{success} && $r->{json}{error}{code}, "$name: a JSON error";
}
ok $gw->alive, 'the gateway survives malformed requests';
is $gw->get('/healthz')->{status}, 200, 'and still answers';

is $gw->stop('TERM'), 0, 'clean stop';
done_testing;
