# Hung Postgres backends: every backend of the gateway is frozen (SIGSTOP) for 3 s under
# load. A request on a frozen backend answers 504 within the DB timeout and its
# connection is dropped (the statement cancelled); the next request on that worker opens
# a new connection, and when timeouts come in a row the Postgres breaker opens and
# requests answer 503 at once; leaderboards stay 200 throughout. Thawed, the abandoned
# backends go away, none is left holding a transaction open, the gateway's connections
# do not pile up, the breaker is closed and nothing acknowledged is lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use QRTest qw(wait_until);
use QRFaults qw(fault_world);

my $w = fault_world();
my %usual = (board => '200', history => '200', family => '201', scan => '200');
my $backends_sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'qr_gateway'";

my $name = 'every gateway backend hung (SIGSTOP 3 s)';
$w->fault($name, sub {
    my $before = $w->breaker_moves('postgres');
    my $load = $w->start_load;
    sleep 2;
    my @frozen = split /\n/, $w->psql($backends_sql);
    cmp_ok scalar @frozen, '>=', 2, "$name: the gateway has backends to freeze (" . @frozen . ')';
    $load->mark('hung');
    # The backends run as the postgres user: signal them as it (or as root).
    kill 'STOP', @frozen;
    sleep 3;
    kill 'CONT', @frozen;
    $load->mark('thawed');
    ok wait_until(10, sub { $w->history->{status} == 200 }), "$name: reads work again";
    $load->mark('recovered');
    sleep 2;
    my @records = $load->stop;
    $w->expect_status("$name, before", \@records, ['start'], %usual);
    my @hung = $w->expect_status("$name, hung", \@records, [qw(hung thawed crossing)],
        board => '200', history => '200|503|504', family => '201|503|504', scan => '200|503|504');
    my $timeouts = grep { $_->{status} == 504 } @hung;
    cmp_ok $timeouts, '>=', 1, "$name: requests on frozen backends answered 504 ($timeouts)";
    $w->expect_status("$name, recovered", \@records, ['recovered'], %usual);
    ok wait_until(10, sub { $w->psql("SELECT count(*) FROM pg_stat_activity WHERE "
        . "application_name = 'qr_gateway' AND state LIKE 'idle in transaction%'") == 0 }),
        "$name: no backend left idle in a transaction";
    my $open = $w->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qr_gateway'");
    cmp_ok $open, '<=', 8 + 1, "$name: at most a connection per worker and the poller's ($open)";
    # Whether the breaker opens depends on whether the timeouts came in a row or between
    # successes on new connections; either way it is closed again by now.
    my $opened = $w->breaker_moves('postgres')->{'closed>open'} - $before->{'closed>open'};
    ok wait_until(10, sub { $w->gw->metric('qr_gateway_breaker_state', breaker => 'postgres') == 0 }),
        "$name: the Postgres breaker is closed (it opened $opened times)";
    return $w->check_invariants($name, \@records) . ", $timeouts answered 504, the breaker opened $opened times";
});
is $w->gw->stop('TERM'), 0, 'the gateway stops cleanly';

done_testing;
