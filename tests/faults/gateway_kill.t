# The gateway killed (SIGKILL) during writes and started again on its port after 1 s,
# with the load running throughout: requests in flight at the kill get no answer (the
# client sees the connection drop; such a write is in doubt), nothing answers while no
# gateway runs, and the new gateway serves everything at once, not held up by what the
# old one left in Redis (cache locks, leases). Every write acknowledged before or after
# is in Postgres, no code is accepted twice, the chains verify.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use QRFaults qw(fault_world);

my $w = fault_world();
my %usual = (board => '200', history => '200', family => '201', scan => '200');

my $name = 'gateway killed (SIGKILL) during writes, restarted after 1 s';
$w->fault($name, sub {
    my $load = $w->start_load(workers => 6);
    sleep 2;
    $load->mark('killed');
    $w->gw->stop('KILL');
    is $w->gw->{signalled}, 9, "$name: the gateway was killed";
    sleep 1;
    $load->mark('restarting');
    $w->start_gateway;
    $load->mark('restarted');
    sleep 3;
    my @records = $load->stop;
    $w->expect_status("$name, before", \@records, ['start'], %usual);
    my @dropped = $w->expect_status("$name, killed", \@records, [qw(killed restarting crossing)],
        board => '200|599', history => '200|599', family => '201|599', scan => '200|599');
    cmp_ok scalar(grep { $_->{status} == 599 } @dropped), '>', 0, "$name: requests went unanswered meanwhile";
    $w->expect_status("$name, restarted", \@records, ['restarted'], %usual);
    return $w->check_invariants($name, \@records);
});
is $w->gw->stop('TERM'), 0, 'the new gateway stops cleanly';

done_testing;
