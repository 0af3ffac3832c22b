# The bearer token step of every request: no header is anonymous; a valid HS256 token
# passes; every refused token of the token table (other algorithms, flipped signature,
# segment counts, bad base64url, duplicate keys, times, size, malformed JSON, other
# schemes) answers 401 with WWW-Authenticate, the error envelope and no reason for the
# client, before any Postgres or Redis work (a gateway whose Postgres is unreachable
# still answers 401 at once), and the reason reaches the log. Tokens are signed here
# with Digest::SHA, independently of the gateway's code.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Digest::SHA qw(hmac_sha256);
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(time);
use QRTest qw(start_gateway free_port);

my $secret = 'auth-test-secret-' . ('s' x 32);
my $now = int(time);

# header.claims.signature, each part given as JSON text
sub token {
    my ($header, $claims, %opts) = @_;
    my $input = encode_base64url($header) . '.' . encode_base64url($claims);
    return "$input." . encode_base64url(hmac_sha256($input, $opts{secret} // $secret));
}
sub claims_json {
    my (%over) = @_;
    my %c = (sub => '42', role => 'organizer', tier => 'premium', iat => $now - 10,
             exp => $now + 3600, %over);
    delete $c{$_} for grep { !defined $c{$_} } keys %c;
    return JSON::PP->new->canonical->encode(\%c);
}
my $hs256 = '{"alg":"HS256","typ":"JWT"}';
my $good = token($hs256, claims_json());

my $gw = start_gateway(env => { QR_GATEWAY_JWT_SECRET => $secret });
sub with_auth { my ($value) = @_; return $gw->get('/readyz', { headers => { Authorization => $value } }); }

is $gw->get('/readyz')->{status}, 200, 'no Authorization header: anonymous, served';
is with_auth("Bearer $good")->{status}, 200, 'a valid HS256 token is accepted';
is with_auth("bearer  $good ")->{status}, 200, 'the scheme in any case, spaces around the token';

my $flipped = $good;
substr($flipped, -5, 1) = substr($flipped, -5, 1) eq 'A' ? 'B' : 'A';
(my $no_sig = $good) =~ s/\.[^.]*\z//;
my %refused = (
    'alg none'              => token('{"alg":"none"}', claims_json()) =~ s/[^.]*\z//r,
    'alg HS512'             => token('{"alg":"HS512","typ":"JWT"}', claims_json()),
    'alg RS256'             => token('{"alg":"RS256"}', claims_json()),
    'flipped signature bit' => $flipped,
    'another secret'        => token($hs256, claims_json(), secret => 'another-secret-' . ('o' x 32)),
    'two segments'          => $no_sig,
    'four segments'         => "$good.e30",
    'one segment'           => 'abc',
    'padding (base64)'      => "$good=",
    'standard alphabet'     => $good =~ s/-/+/r =~ s/_/\//r,
    'duplicate claim'       => token($hs256, '{"sub":"42","role":"organizer","tier":"premium","iat":'
                                     . ($now - 10) . ',"exp":' . ($now + 3600) . ',"exp":' . ($now + 99999) . '}'),
    'duplicate alg'         => token('{"alg":"HS256","alg":"none"}', claims_json()),
    'no exp'                => token($hs256, claims_json(exp => undef)),
    'expired'               => token($hs256, claims_json(exp => $now - 3600)),
    'not yet valid (nbf)'   => token($hs256, claims_json(nbf => $now + 3600)),
    'issued in the future'  => token($hs256, claims_json(iat => $now + 3600)),
    'oversized'             => token($hs256, claims_json(pad => 'p' x 4000)),
    'malformed JSON'        => token($hs256, '{"sub":"42",'),
    'nested claim'          => token($hs256, '{"sub":{"id":42},"role":"organizer","tier":"premium","iat":1,"exp":'
                                     . ($now + 60) . '}'),
    'unknown role'          => token($hs256, claims_json(role => 'admin')),
);
for my $case (sort keys %refused) {
    next if $case eq 'standard alphabet' && $refused{$case} eq $good;
    my $res = with_auth("Bearer $refused{$case}");
    is $res->{status}, 401, "$case: 401";
    is $res->{json}{error}{code}, 'unauthorized', "$case: error code";
    is $res->{json}{error}{message}, 'invalid token', "$case: no reason for the client";
    is $res->{headers}{'www-authenticate'}, 'Bearer', "$case: WWW-Authenticate";
}
for my $header ('Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', "Bearer $good extra", 'Token abc') {
    is with_auth($header)->{status}, 401, "Authorization '$header': 401";
}
ok scalar(grep { ($_->{msg} // '') eq 'refused a bearer token' && ($_->{reason} // '') eq 'token expired' }
          $gw->log_lines), 'the reason is logged';

# Before any Postgres work: with Postgres unreachable, a refused token is still 401 at
# once, while a valid one waits for the readiness check and gets 503.
my $down = start_gateway(env => { QR_GATEWAY_JWT_SECRET => $secret,
                                  QR_GATEWAY_DB => 'host=127.0.0.1 port=' . free_port() . ' dbname=none connect_timeout=2' });
my $t0 = time;
my $res = $down->get('/readyz', { headers => { Authorization => "Bearer $refused{expired}" } });
is $res->{status}, 401, 'Postgres down: a refused token is 401';
cmp_ok time - $t0, '<', 1, '... at once, without trying Postgres';
is $down->get('/readyz', { headers => { Authorization => "Bearer $good" } })->{status}, 503,
    'Postgres down: a valid token reaches the readiness check (503)';

done_testing;
