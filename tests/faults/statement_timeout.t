# A query past statement_timeout: the gateway's sessions run with statement_timeout =
# 300ms (set in its conninfo, below its own 1 s DB timeout) and another client locks the
# families table for 3 s under load. Every new family waits on the lock until Postgres
# cancels it: 504 gateway_timeout after about 300 ms, not after the gateway's deadline.
# A statement timing out says nothing about the server's health, so the breaker stays
# closed and every other request answers as usual (leaderboards, which join families,
# from the cache, stale while their refresh times out); once the lock is gone, families
# are created again. Nothing acknowledged is lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use QRTest qw(wait_until);
use QRFaults qw(fault_world);

my $w = fault_world(session => { statement_timeout => 300 });
my %usual = (board => '200', history => '200', family => '201', scan => '200');

my $name = 'statement_timeout (300 ms) passed while a lock is held for 3 s';
$w->fault($name, sub {
    my $before = $w->breaker_moves('postgres');
    my $load = $w->start_load;
    sleep 2;
    my $lock = $w->pg->session;
    $lock->run('BEGIN; LOCK TABLE qr_event.families IN ACCESS EXCLUSIVE MODE;');
    ok wait_until(5, sub { $w->psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
        . "AND relation = 'qr_event.families'::regclass AND granted") == 1 }), "$name: the lock is held";
    $load->mark('locked');
    sleep 3;
    $load->mark('unlocking');
    $lock->close;
    ok wait_until(5, sub { $w->psql("SELECT count(*) FROM pg_locks WHERE "
        . "relation = 'qr_event.families'::regclass AND mode = 'AccessExclusiveLock'") == 0 }),
        "$name: the lock is gone";
    $load->mark('unlocked');
    sleep 2;
    my @records = $load->stop;
    $w->expect_status("$name, before", \@records, ['start'], %usual);
    my @locked = $w->expect_status("$name, locked", \@records, ['locked'], %usual, family => '504');
    my @waits = map { $_->{ms} } grep { $_->{kind} eq 'family' } @locked;
    cmp_ok((sort { $a <=> $b } @waits)[0], '>=', 250, "$name: the families were cancelled after about 300 ms")
        and cmp_ok((sort { $b <=> $a } @waits)[0], '<', 900, '... well before the gateway\'s 1 s deadline');
    ok scalar(grep { $_->{kind} eq 'board' && $_->{cache} eq 'stale' } @locked),
        "$name: leaderboards (which join families) served stale while their refresh timed out";
    $w->expect_status("$name, unlocked", \@records, ['unlocked'], %usual);
    is_deeply $w->breaker_moves('postgres'), $before, "$name: the Postgres breaker never moved";
    return $w->check_invariants($name, \@records) . ', ' . @waits . ' families cancelled by statement_timeout';
});
is $w->gw->stop('TERM'), 0, 'the gateway stops cleanly';

done_testing;
