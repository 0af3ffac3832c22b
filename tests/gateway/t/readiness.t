# Readiness when Redis hangs (SIGSTOP), dies and comes back, and when Postgres is
# unreachable: /readyz answers 503 within its deadline and recovers by itself.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use QRTest qw(start_gateway start_redis free_port wait_until);

my $redis_timeout_ms = 300;
my $redis = start_redis();
my $gw = start_gateway(env => { QR_GATEWAY_REDIS => $redis->address,
                                QR_GATEWAY_REDIS_TIMEOUT_MS => $redis_timeout_ms,
                                QR_GATEWAY_THREADS => 4 });

is $gw->get('/readyz')->{status}, 200, 'ready with both servers up';

$redis->signal('STOP');
my $res = $gw->get('/readyz');
is $res->{status}, 503, 'hung Redis: 503';
is $res->{json}{error}{code}, 'not_ready', 'hung Redis: code not_ready';
is $res->{headers}{'retry-after'}, '1', 'hung Redis: Retry-After';
ok !$res->{json}{error}{details}{redis}{ok}, 'hung Redis: details name redis';
ok $res->{json}{error}{details}{postgres}{ok}, 'hung Redis: postgres still ok';
cmp_ok $res->{ms}, '<', $redis_timeout_ms * 2 + 1500, 'hung Redis: answered within the deadline';
is $gw->get('/healthz')->{status}, 200, 'hung Redis: liveness unaffected';

# Every worker thread meets the hung Redis at most once per request; all answer.
my @many = map { $gw->get('/readyz')->{status} } 1 .. 6;
is_deeply \@many, [(503) x 6], 'hung Redis: every request answers 503';

$redis->signal('CONT');
ok wait_until(5, sub { $gw->get('/readyz')->{status} == 200 }), 'Redis resumed: ready again';

$redis->terminate;
$res = $gw->get('/readyz');
is $res->{status}, 503, 'Redis killed: 503';
ok !$res->{json}{error}{details}{redis}{ok}, 'Redis killed: details name redis';
like $res->{json}{error}{message}, qr/redis/i, 'Redis killed: message names redis';
unlike $res->{content}, qr/Connection refused|errno|hiredis/i, 'no internal error text';
cmp_ok $res->{ms}, '<', 2000, 'Redis killed: answered quickly';

$redis->spawn;
ok wait_until(5, sub { $gw->get('/readyz')->{status} == 200 }),
    'Redis restarted on the same port: the gateway reconnects by itself';
is $gw->stop('TERM'), 0, 'clean stop';

# Postgres unreachable: a port nothing listens on.
my $dead = free_port();
my $gw2 = start_gateway(env => { QR_GATEWAY_DB => "host=127.0.0.1 port=$dead dbname=x user=x",
                                 QR_GATEWAY_DB_TIMEOUT_MS => 500 });
is $gw2->get('/healthz')->{status}, 200, 'Postgres down: liveness 200';
$res = $gw2->get('/readyz');
is $res->{status}, 503, 'Postgres down: readiness 503';
ok !$res->{json}{error}{details}{postgres}{ok}, 'Postgres down: details name postgres';
ok $res->{json}{error}{details}{redis}{ok}, 'Postgres down: redis still ok';
unlike $res->{content}, qr/could not connect|127\.0\.0\.1:$dead|port $dead/,
    'no libpq text leaks to the client';
cmp_ok $res->{ms}, '<', 3000, 'Postgres down: answered within the deadline';
is $gw2->stop('TERM'), 0, 'clean stop';

done_testing;
