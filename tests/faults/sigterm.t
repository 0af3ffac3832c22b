# SIGTERM with requests in flight, under load: new families wait on a lock another
# client holds when the gateway is told to stop, and the lock goes 0.3 s later. Every
# request sent before the signal gets its whole answer (the waiting families their 201,
# and their rows); requests sent after it on open connections get 503 with Retry-After
# or a closed connection; the gateway exits 0 well within its grace, then refuses
# connections; a new gateway on the same port serves everything. Nothing acknowledged
# is lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use QRTest qw(wait_until);
use QRFaults qw(fault_world);

# A DB timeout of 3 s: the families waiting on the lock must outlast it by far.
my $w = fault_world(gateway => { QR_GATEWAY_DB_TIMEOUT_MS => 3000 });
my %usual = (board => '200', history => '200', family => '201', scan => '200');
my $waiting_sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qr_gateway' "
    . "AND wait_event_type = 'Lock' AND query LIKE '%http_add_family%'";

my $name = 'SIGTERM with requests in flight';
$w->fault($name, sub {
    my $load = $w->start_load(workers => 6);
    sleep 2;
    my $lock = $w->pg->session;
    $lock->run('BEGIN; LOCK TABLE qr_event.families IN ACCESS EXCLUSIVE MODE;');
    ok wait_until(5, sub { $w->psql($waiting_sql) >= 2 }), "$name: families wait on the lock";
    my $in_flight = $w->psql($waiting_sql);
    my $signalled = $load->mark('terminating');
    $w->gw->signal('TERM');
    sleep 0.3;
    $lock->close;
    my $status = $w->gw->stop('TERM');
    my $took = time - $signalled;
    is $status, 0, "$name: the gateway exited 0";
    cmp_ok $took, '<', 5, sprintf('%s: ... %.1f s after the signal', $name, $took);
    ok !IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->gw->port, Timeout => 1),
        "$name: ... and refuses connections";
    $load->mark('stopped');
    sleep 0.5;
    $load->mark('restarting');
    $w->start_gateway;
    $load->mark('restarted');
    sleep 2;
    my @records = $load->stop;
    $w->expect_status("$name, before", \@records, ['start'], %usual);
    my @sent_before = grep { $_->{t0} < $signalled - 0.01 && $_->{t0} + $_->{ms} / 1000 > $signalled }
        @records;
    $w->expect_status("$name, sent before the signal, answered after", \@sent_before, undef, %usual);
    cmp_ok scalar(grep { $_->{kind} eq 'family' } @sent_before), '>=', $in_flight,
        "$name: the $in_flight families waiting on the lock were among them";
    # While it stops, the gateway answers requests on open connections 503 (with Retry-After).
    $w->expect_status("$name, sent after the signal", \@records, [qw(terminating stopped restarting)],
        board => '200|503|599', history => '200|503|599', family => '201|503|599', scan => '200|503|599');
    $w->expect_status("$name, restarted", \@records, ['restarted'], %usual);
    return $w->check_invariants($name, \@records) . ', ' . @sent_before . ' answered after the signal, exit 0 in '
        . sprintf('%.1f s', $took);
});
is $w->gw->stop('TERM'), 0, 'the new gateway stops cleanly';

done_testing;
