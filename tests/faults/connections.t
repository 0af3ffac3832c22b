# Connections exhausted by another client: with max_connections = 20 (none reserved for
# superusers, so the gateway has no way round), another client holds every connection
# while the gateway starts and the load runs. Requests that need Postgres answer 503
# with Retry-After at once ("too many clients" is not worth waiting for), leaderboards
# answer 200 from Redis, and when the other client lets go the gateway connects and
# serves everything again without a restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use QRTest qw(wait_until);
use QRFaults qw(fault_world);

my $w = fault_world(postgres => { max_connections => 20, superuser_reserved_connections => 0 });
my %usual = (board => '200', history => '200', family => '201', scan => '200');

# True when a new connection is refused for want of slots.
sub full {
    local @ENV{qw(PGHOST PGPORT PGUSER)} = @{ { $w->pg->env } }{qw(PGHOST PGPORT PGUSER)};
    my $out = `psql -X -q -d postgres -c 'SELECT 1' 2>&1`;
    return $out =~ /too many clients/;
}

my $name = 'connections exhausted by another client (3 s)';
$w->fault($name, sub {
    is $w->board->{status}, 200, "$name: the leaderboard is cached in Redis";
    is $w->gw->stop('TERM'), 0, "$name: the gateway stopped";
    my @hog;
    push @hog, $w->pg->session until full() || @hog > 40;
    ok full(), "$name: another client holds all " . @hog . ' free connections';
    $w->start_gateway;
    my $load = $w->start_load;
    $load->mark('exhausted');
    sleep 3;
    $_->close for @hog;
    $load->mark('released');
    ok wait_until(10, sub { $w->history->{status} == 200 }), "$name: reads work again";
    $load->mark('recovered');
    sleep 2;
    my @records = $load->stop;
    $w->expect_status("$name, exhausted", \@records, ['start', 'exhausted'],
                      board => '200', history => '503', family => '503', scan => '503');
    $w->expect_status("$name, released", \@records, ['released', 'crossing'],
                      board => '200', history => '200|503', family => '201|503', scan => '200|503');
    $w->expect_status("$name, recovered", \@records, ['recovered'], %usual);
    my @exhausted = grep { $_->{phase} eq 'exhausted' && $_->{status} == 503 } @records;
    cmp_ok((sort { $b <=> $a } map { $_->{ms} } @exhausted)[0] // 1e9, '<', 500,
        "$name: the 503s came at once, not after the DB timeout");
    return $w->check_invariants($name, \@records);
});
is $w->gw->stop('TERM'), 0, 'the gateway stops cleanly';

done_testing;
