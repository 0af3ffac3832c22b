# Postgres stopped fast and crashed (immediate) under writes, then started again, with
# the load running throughout: while it is down, leaderboards stay 200 (from the cache,
# stale once their 1 s TTL has passed) and every other request answers 503 with
# Retry-After within the deadline; once it is back, the breaker closes by itself and
# everything answers 2xx without restarting the gateway. Nothing acknowledged is lost.
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
my %either = (board => '200', history => '200|503|504', family => '201|503|504', scan => '200|503|504');

for my $mode (qw(fast immediate)) {
    my $name = "postgres stopped ($mode) under writes, started after 3 s";
    $w->fault($name, sub {
        my $before = $w->breaker_moves('postgres');
        my $load = $w->start_load;
        sleep 2;
        $load->mark('stopping');
        ok $w->pg->stop($mode), "$name: pg_ctl stop -m $mode";
        $load->mark('down');
        sleep 3;
        $load->mark('starting');
        ok $w->pg->start, "$name: pg_ctl start";
        $load->mark('back');
        ok wait_until(10, sub { $w->history->{status} == 200 }), "$name: reads work again";
        $load->mark('recovered');
        sleep 3;
        my @records = $load->stop;
        $w->expect_status("$name, before", \@records, ['start'], %usual);
        $w->expect_status("$name, stopping and starting", \@records, [qw(stopping starting back crossing)], %either);
        $w->expect_status("$name, down", \@records, ['down'],
                          board => '200', history => '503', family => '503', scan => '503');
        $w->expect_status("$name, recovered", \@records, ['recovered'], %usual);
        ok scalar(grep { $_->{phase} eq 'down' && $_->{kind} eq 'board' && $_->{cache} eq 'stale' } @records),
            "$name, down: leaderboards past their TTL served stale from the cache";
        $w->breaker_cycled($name, 'postgres', $before);
        return $w->check_invariants($name, \@records);
    });
}
is $w->gw->stop('TERM'), 0, 'the gateway stops cleanly';

done_testing;
