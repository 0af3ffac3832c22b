# Graceful shutdown: SIGTERM lets an in-flight request finish, then the gateway
# exits 0 and stops accepting connections. The in-flight request is a /readyz
# held up by a hung (SIGSTOPped) Redis for its whole deadline.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use QRTest qw(start_gateway start_redis wait_until);

my $redis = start_redis();
my $gw = start_gateway(env => { QR_GATEWAY_REDIS => $redis->address,
                                QR_GATEWAY_REDIS_TIMEOUT_MS => 1500 });
is $gw->get('/readyz')->{status}, 200, 'ready';

$redis->signal('STOP');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw->port, Timeout => 5)
    or die "connect: $!";
print {$s} "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
sleep 0.4;
my $t0 = time;
$gw->signal('TERM');

my $reply = '';
while (1) {
    my $n = sysread($s, my $chunk, 65536);
    last unless $n;
    $reply .= $chunk;
}
my $r = QRTest::Gateway::parse_raw($reply);
is $r->{status}, 503, 'the in-flight request got its full answer';
is $r->{json}{error}{code}, 'not_ready', '... a complete JSON envelope';

my $status = $gw->stop('TERM');
is $status, 0, 'the gateway exited with status 0';
cmp_ok time - $t0, '<', 10, 'and within 10 s of SIGTERM';
ok !IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw->port, Timeout => 1),
    'no longer accepting connections';
my @msgs = map { $_->{msg} // '' } $gw->log_lines;
ok((grep { /shutting down/ } @msgs), 'logged the shutdown');
$redis->signal('CONT');

# SIGINT (Ctrl-C) is graceful too.
my $gw2 = start_gateway();
is $gw2->stop('INT'), 0, 'SIGINT stops with status 0';

done_testing;
