# The authorisation matrix under load: the cells of tests/lib/QRAuthz.pm (seven callers
# × every API route × own/other/missing target), shuffled, hammered for a few seconds by
# concurrent client processes (keep-alive, loopback) against one gateway with caching on
# and rate limits on (the tiers and endpoint limits raised so that a 429 stays rare).
#
# Every answer must be the matrix's status for its cell: a forbidden cell never 2xx, an
# allowed one never 401/403, nothing ever 5xx. A 2xx answer must also hold only what its
# caller may see (QRAuthz's entitled checks: the event, guest, game, code or account of
# the cell), which is what a cached answer served to another principal would break, and
# the matrix's own checks. A 429 passes nothing: it is counted apart, never allowed where
# the cell expects 401/403 (authentication comes before the limits), and every cell must
# also have been answered without one. Cached private answers must have been served from
# the cache (hits) while this holds. An allowed write that cannot run twice (a revoke) or
# concurrently (a QR code's (re)issue) may answer 409: its route's `again`.
#
# QR_AUTHZ_LOAD_WORKERS (8) and QR_AUTHZ_LOAD_SECONDS (10) size the run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp ();
use HTTP::Tiny;
use JSON::PP ();
use List::Util qw(shuffle sum0);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use QRAuthz;
use QRTest qw(start_gateway);

my $workers = $ENV{QR_AUTHZ_LOAD_WORKERS} // 8;
my $seconds = $ENV{QR_AUTHZ_LOAD_SECONDS} // 10;
my $generous = '60000/min,burst=5000';
my $m = QRAuthz->new(tag => "authzload$$");
my $gw = start_gateway(env => {
    QR_GATEWAY_CACHE              => 'on',
    QR_GATEWAY_RATE_LIMITS        => 'on',
    QR_GATEWAY_RATE_PREMIUM       => "$generous,concurrent=64",
    QR_GATEWAY_RATE_AUTHENTICATED => "$generous,concurrent=64",
    QR_GATEWAY_RATE_ANONYMOUS     => "$generous,concurrent=64",
    map { ("QR_GATEWAY_RATE_$_" => $generous) } qw(LOGIN LEADERBOARD PLAY EVENTS),
});

my $signed = $m->sign_in($gw);
for my $who (sort keys %$signed) {
    is $signed->{$who}{status}, 200, "$who signs in" or BAIL_OUT("$who cannot sign in: $signed->{$who}{content}");
}

my @cells = $m->cells;
my %private_cached = map { ($_ => 1) } ('GET /api/events', 'GET /api/events/{id}', 'GET /api/events/{id}/guests',
                                        'GET /api/events/{id}/families', 'GET /api/events/{id}/stats');
ok @cells > 300, scalar(@cells) . ' cells';

# --- one client process: first its share of the cells (so that together the clients call
# each at least once, however slow the machine), then the cells in its own shuffled order
# until the time is up (the last third of the time the read cells only: the writes of the
# mix keep invalidating cached answers, and a cache full of every caller's answers is what
# could leak).
# Writes its tallies as JSON: per cell the statuses seen, cache outcomes, failed checks (the
# first few), and per route the 404 messages.
sub client {
    my ($n, $reads_from, $until, $file) = @_;
    srand($$ ^ int(time * 1000));
    local $gw->{http} = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    my (%status, %cache, %msg404, @failures);
    my $calls = 0;
    my @reads = grep { $cells[$_]{route}{route} =~ /^GET / } 0 .. $#cells;
    my @share = grep { $_ % $workers == $n - 1 } 0 .. $#cells;
    for (my $round = 0; $round == 0 || time < $until; $round++) {
        for my $i (shuffle($round == 0 ? @share : time < $reads_from ? (0 .. $#cells) : @reads)) {
            last if $round > 0 && time >= $until;
            my $c = $cells[$i];
            my $r = $c->{route};
            my $res = $gw->call($r->{req}->($c->{target}), token => $m->token($c->{caller}));
            $calls++;
            my $st = $res->{status};
            $status{$i}{$st}++;
            $cache{$i}{ $res->{json}{meta}{cache} }++ if $st == 200 && $res->{json} && $res->{json}{meta}{cache};
            $msg404{ $r->{route} }{ ($res->{json}{error}{code} // '') . ': ' . ($res->{json}{error}{message} // '') }++
                if $st == 404;
            next unless $st == $c->{want} && $st < 300;
            for my $as (grep { defined } map { $_ ? $_->($res, $c->{caller}, $c->{target}) : () } @$r{qw(check entitled)}) {
                next if QRAuthz::holds($as);
                push @failures, { cell => $i, name => $as->{name}, got => $as->{got} // 'undef',
                                  body => substr($res->{content} // '', 0, 400) } if @failures < 20;
                $status{$i}{wrong_body}++;
            }
        }
    }
    open my $fh, '>', $file or die "$file: $!";
    print {$fh} JSON::PP->new->canonical->encode({ calls => $calls, status => \%status, cache => \%cache,
                                                   msg404 => \%msg404, failures => \@failures });
    close $fh;
}

my $dir = File::Temp::tempdir('authz_load.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp', CLEANUP => 1);
my $t0 = time;
my $until = $t0 + $seconds;
my %kids;
for my $n (1 .. $workers) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $ok = eval { client($n, $t0 + $seconds * 2 / 3, $until, "$dir/client$n.json"); 1 };
        print STDERR "# client $n: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    $kids{$pid} = $n;
}
# bounded: a client still running long after the end is killed (and counted as failed)
my $hard = $until + 30;
my %exit;
while (%kids && time < $hard) {
    my $pid = waitpid(-1, POSIX::WNOHANG());
    if ($pid > 0) { $exit{ delete $kids{$pid} } = $?; next }
    sleep 0.1;
}
for my $pid (keys %kids) { kill 'KILL', $pid; waitpid $pid, 0; $exit{ $kids{$pid} } = 'killed'; }
my $elapsed = time - $t0;
is_deeply [grep { $exit{$_} ne '0' } sort keys %exit], [], "$workers clients finished in time and cleanly";

# --- the tallies -----------------------------------------------------------------------------------------
my (%status, %cache, %msg404, @failures);
my $calls = 0;
for my $n (1 .. $workers) {
    my $t = QRTest::json(do { local (@ARGV, $/) = ("$dir/client$n.json"); -e $ARGV[0] ? <> : '' }) or next;
    $calls += $t->{calls};
    for my $i (keys %{ $t->{status} }) { $status{$i}{$_} += $t->{status}{$i}{$_} for keys %{ $t->{status}{$i} }; }
    for my $i (keys %{ $t->{cache} }) { $cache{$i}{$_} += $t->{cache}{$i}{$_} for keys %{ $t->{cache}{$i} }; }
    for my $r (keys %{ $t->{msg404} }) { $msg404{$r}{$_} += $t->{msg404}{$r}{$_} for keys %{ $t->{msg404}{$r} }; }
    push @failures, @{ $t->{failures} };
}
diag sprintf '%d answers in %.1f s (%.0f/s) from %d clients over %d cells', $calls, $elapsed,
    $calls / ($elapsed || 1), $workers, scalar @cells;
cmp_ok $calls, '>=', scalar(@cells), 'the clients answered at least one round of the matrix';

sub cell_name { my ($c) = @_; return "$c->{route}{route} as $c->{caller} on $c->{target}"; }

# Per route: every status is the cell's (or the route's `again`, or a 429 where the cell is
# not refused by authentication), every 2xx holds only what its caller may see.
my (%per_route, $limited, $fivexx, $client_err, @unverified);
for my $i (0 .. $#cells) {
    my $c = $cells[$i];
    my $route = $c->{route}{route};
    my $seen = $status{$i} // {};
    my $verified = 0;
    for my $st (sort keys %$seen) {
        my $k = $seen->{$st};
        if ($st eq 'wrong_body') { push @{ $per_route{$route} }, "$k answers of " . cell_name($c) . ' hold rows of another caller'; next }
        $fivexx += $k if $st =~ /^5/;
        $client_err += $k if $st == 599;
        if ($st == $c->{want} || ($c->{want} =~ /^2/ && $c->{route}{again} && $st == $c->{route}{again})) { $verified += $k; next }
        if ($st == 429 && $c->{want} !~ /^40[13]$/) { $limited += $k; next }
        push @{ $per_route{$route} }, "$k answers $st to " . cell_name($c) . " (expected $c->{want})";
    }
    push @unverified, cell_name($c) unless $verified;
}
for my $r ($m->routes) {
    my $route = $r->{route};
    my @bad = @{ $per_route{$route} // [] };
    ok !@bad, "$route: every answer under load is the matrix's" or diag join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    my @kinds = sort keys %{ $msg404{$route} // {} };
    ok @kinds <= 1, "$route: one 404 answer for every hidden or missing row" . (@kinds ? " ($kinds[0])" : '')
        or diag join "\n", @kinds;
}
diag "  $_->{name} (got $_->{got}): " . cell_name($cells[ $_->{cell} ]) . "\n    $_->{body}" for @failures;
is $fivexx // 0, 0, 'no 5xx answer';
is $client_err // 0, 0, 'no request timed out or lost its connection';
is_deeply \@unverified, [], 'every cell was answered without a 429 at least once';
$limited //= 0;
cmp_ok $limited, '<=', $calls * 0.05, "429s are rare with the raised limits ($limited of $calls, counted apart)";

# The cache was in play for the private routes: answers served from it passed the checks above.
my %hits;
for my $i (0 .. $#cells) {
    my $route = $cells[$i]{route}{route};
    next unless $private_cached{$route};
    $hits{$route} += $cache{$i}{$_} // 0 for qw(hit stale);
}
cmp_ok sum0(values %hits), '>', 0, 'private answers were served from the cache: '
    . join(', ', map { "$_ " . ($hits{$_} // 0) } sort keys %private_cached);

# --- the gateway afterwards -----------------------------------------------------------------------------------
ok $gw->alive, 'the gateway is still running';
is $gw->get('/healthz')->{status}, 200, 'and answers /healthz';
is $gw->server_errors, 0, 'its metrics count no 5xx answer';

done_testing;
