# Redis hung (SIGSTOP for 3 s) and killed then restarted, under steady load with rate
# limiting on: every request still answers, within the deadline and with its usual
# status (leaderboards from the gateway's own copy, limits from the local fallback,
# everything else from Postgres); the Redis breaker opens and closes by itself.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use QRFaults qw(fault_world);

my $high = '10000/s,burst=1000';
my $w = fault_world(gateway => { QR_GATEWAY_RATE_LIMITS => 'on', QR_GATEWAY_RATE_AUTHENTICATED => $high,
                                 QR_GATEWAY_RATE_ANONYMOUS => $high, QR_GATEWAY_RATE_LEADERBOARD => $high });
my %usual = (board => '200', history => '200', family => '201', scan => '200');

for my $fault (['redis hung (SIGSTOP 3 s)', sub { $w->redis->signal('STOP') }, sub { $w->redis->signal('CONT') }],
               ['redis killed, restarted after 3 s', sub { $w->redis->terminate }, sub { $w->redis->spawn }]) {
    my ($name, $break, $mend) = @$fault;
    $w->fault($name, sub {
        my $before = $w->breaker_moves('redis');
        my $load = $w->start_load;
        sleep 2;
        $load->mark('fault');
        $break->();
        sleep 3;
        $load->mark('mended');
        $mend->();
        sleep 3;
        my @records = $load->stop;
        $w->expect_status($name, \@records, undef, %usual);
        $w->breaker_cycled($name, 'redis', $before);
        return $w->check_invariants($name, \@records);
    });
}
is $w->gw->stop('TERM'), 0, 'the gateway stops cleanly';

done_testing;
