# The fault suite's world (make faults, tests/faults/*.t): a private PostgreSQL cluster and
# Redis that a test may stop, crash, hang and exhaust, a gateway in front of them, an
# event with a live game and QR codes, a bounded loopback load generator that keeps
# reads, writes and door scans going while a fault happens, and the checks every fault
# must pass afterwards:
#   - every write answered 2xx is in Postgres (families by name, scans by device id);
#   - no QR code is accepted at the door twice, in the answers or in the audit;
#   - the audit's hash chains verify;
#   - every request that got an answer got it within the deadline;
#   - every 503 carries Retry-After.
# Each fault ends with one printed line, "fault <name>: pass|FAIL (figures)", also
# appended to $QR_FAULTS_RESULTS for tests/faults/run.sh's summary.
package QRFaults;

use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;
use QRTest qw(start_postgres start_redis);

our @EXPORT_OK = qw(fault_world);

# The deadline every answer must meet: the gateway's DB timeout (1 s) plus a margin for
# a shared 2-core machine running the load generator too.
our $DEADLINE_MS = 2000;
my $PASSWORD = 'correct horse battery';
my $json = JSON::PP->new->canonical;

# Sets up the world: %opts{gateway} adds gateway settings, %opts{postgres} server
# settings (ALTER SYSTEM, then a restart), %opts{session} settings of the gateway's
# sessions (in its conninfo's options), %opts{codes} QR codes (200).
sub fault_world {
    my (%opts) = @_;
    my $db = 'qr_faults';
    my $pg = start_postgres(db => $db);
    if (my $settings = $opts{postgres}) {
        $pg->psql('postgres', "ALTER SYSTEM SET $_ = '$settings->{$_}'") for sort keys %$settings;
        $pg->stop('fast') && $pg->start or BAIL_OUT('postgres did not restart with the new settings');
    }
    my $redis = start_redis();
    my $w = bless { pg => $pg, redis => $redis, db => $db }, 'QRFaults::World';
    my $organiser = $pg->psql($db, 'SET qr_event.password_iterations = 1000; SELECT qr_event.create_account('
        . "'organiser\@example.com', '$PASSWORD', 'Olga Organiser')");
    $w->{event} = $pg->psql($db, 'INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) '
        . "VALUES ($organiser, 'Faults', 'Hall', now() - interval '1 hour', now() + interval '1 day') RETURNING id");
    $w->{game} = $pg->psql($db, 'INSERT INTO qr_event.games (event_id, title, status, score_policy) VALUES '
        . "($w->{event}, 'Darts', 'live', 'best') RETURNING id");
    my $codes = $opts{codes} // 200;
    $pg->psql($db, "WITH g AS (INSERT INTO qr_event.guests (event_id, first_name, last_name) "
        . "SELECT $w->{event}, 'Guest', 'No ' || i FROM generate_series(1, $codes) i RETURNING id) "
        . "SELECT qr_event.record_play($w->{game}, id, NULL, (id % 97)::int, true) FROM g");
    $w->{codes} = [split /\n/, $pg->psql($db, 'SELECT qr_event.issue_qr(id) FROM qr_event.guests '
        . "WHERE event_id = $w->{event} ORDER BY id")];
    $w->{gateway_env} = {
        QR_GATEWAY_DB => $pg->conninfo . ($opts{session} ? " options='"
            . join(' ', map { "-c $_=$opts{session}{$_}" } sort keys %{ $opts{session} }) . "'" : ''),
        QR_GATEWAY_REDIS => $redis->address, QR_GATEWAY_THREADS => 8,
        QR_GATEWAY_BREAKER_FAILURES => 3, QR_GATEWAY_BREAKER_OPEN_MS => 2000,
        QR_GATEWAY_BREAKER_PROBE_MS => 1000, QR_GATEWAY_DB_TIMEOUT_MS => 1000,
        QR_GATEWAY_REDIS_TIMEOUT_MS => 200, QR_GATEWAY_CACHE_TTL_REALTIME_S => 1,
        QR_GATEWAY_CACHE_STALE_S => 300, QR_GATEWAY_ACCESS_LOG => 'off',
        %{ $opts{gateway} // {} },
    };
    $w->start_gateway;
    $w->{token} = $w->{gw}->call('POST', '/api/auth/login',
        body => { email => 'organiser@example.com', password => $PASSWORD })->{json}{data}{token}
        or BAIL_OUT('the organiser cannot log in');
    return $w;
}

package QRFaults::World;

use List::Util qw(max);
use Test::More;
use QRTest qw(wait_until);

sub pg { return $_[0]{pg} }
sub redis { return $_[0]{redis} }
sub gw { return $_[0]{gw} }
sub psql { my ($self, $sql) = @_; return $self->{pg}->psql($self->{db}, $sql); }

# Starts the gateway (again, on the same port when it ran before).
sub start_gateway {
    my ($self) = @_;
    $self->{gw} = QRTest::start_gateway(env => $self->{gateway_env},
                                $self->{gw} ? (port => $self->{gw}->port) : ());
    push @{ $self->{gateways} }, $self->{gw};
    return $self->{gw};
}

# A GET of the leaderboard (the cached read), of a code's history (an uncached read) and
# a new family (a write), through the test's own client.
sub board { my ($self) = @_; return $self->{gw}->call('GET', "/api/games/$self->{game}/leaderboard"); }
sub history {
    my ($self) = @_;
    return $self->{gw}->call('GET', "/api/qr/$self->{codes}[0]/history", token => $self->{token});
}

# Starts the load generator: %opts{workers} processes (4; at most 16) each sending
# %opts{rate} requests a second (25; paced, never bursting to catch up) for at most
# %opts{seconds} (120), a weighted mix of leaderboard reads, history reads, new
# families and door scans of random codes. Loopback only. Returns the load handle.
sub start_load {
    my ($self, %opts) = @_;
    my $workers = $opts{workers} // 4;
    my $rate = $opts{rate} // 25;
    my $seconds = $opts{seconds} // 120;
    die "load generator: 1..16 workers, 1..200 requests/s each\n"
        unless $workers >= 1 && $workers <= 16 && $rate >= 1 && $rate <= 200;
    my $dir = File::Temp::tempdir('qr_load.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp', CLEANUP => 1);
    my %mix = (board => 3, history => 1, family => 2, scan => 2, %{ $opts{mix} // {} });
    my @kinds = map { ($_) x $mix{$_} } sort keys %mix;
    my $load = bless { dir => $dir, pids => [], marks => [], world => $self }, 'QRFaults::Load';
    $load->mark('start');
    for my $n (1 .. $workers) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            # Hold none of the test's descriptors (the pipes of its psql sessions, say, whose
            # psql would otherwise never see the end of its input).
            POSIX::close($_) for 3 .. 1023;
            $load->work($n, $rate, $seconds, \@kinds);
            POSIX::_exit(0);
        }
        push @{ $load->{pids} }, $pid;
    }
    return $load;
}

# Checks what every fault must leave behind, with the load's records; returns the
# figures for the fault's result line.
sub check_invariants {
    my ($self, $label, $records) = @_;
    my @answered = grep { $_->{status} != 599 } @$records;
    my @families = grep { $_->{kind} eq 'family' && $_->{status} =~ /^2/ } @$records;
    my %stored = map { $_ => 1 } split /\n/,
        $self->psql("SELECT name FROM qr_event.families WHERE event_id = $self->{event}");
    my @lost = grep { !$stored{ $_->{key} } } @families;
    is scalar @lost, 0, "$label: all " . @families . ' families answered 201 are in Postgres'
        or diag $json->encode([@lost[0 .. ($#lost < 4 ? $#lost : 4)]]);

    my @scans = grep { $_->{kind} eq 'scan' && $_->{status} =~ /^2/ } @$records;
    my %audit = map { my ($d, $t) = split /\|/; ($d => $t) } split /\n/, $self->psql(
        "SELECT device, type FROM qr_event.qr_code_events WHERE device LIKE 'load-%'");
    my @missing = grep { ($audit{ $_->{key} } // '') ne ($_->{accepted} ? 'scan_accepted' : 'scan_rejected') }
        @scans;
    is scalar @missing, 0, "$label: all " . @scans . ' scans answered 200 are in the audit as answered'
        or diag $json->encode([@missing[0 .. ($#missing < 4 ? $#missing : 4)]]);
    my %accepted_answers;
    $accepted_answers{ $_->{code} }++ for grep { $_->{accepted} } @scans;
    my @twice_answered = grep { $accepted_answers{$_} > 1 } keys %accepted_answers;
    is scalar @twice_answered, 0, "$label: no code answered accepted twice";
    is $self->psql("SELECT count(*) FROM (SELECT qr_code_id FROM qr_event.qr_code_events "
        . "WHERE type = 'scan_accepted' GROUP BY 1 HAVING count(*) > 1) twice"), 0,
        "$label: no code accepted twice in the audit";
    is $self->psql('SELECT count(*) FROM qr_event.verify_audit()'), 0, "$label: the audit chains verify";

    my $slowest = max(0, map { $_->{ms} } @answered);
    cmp_ok $slowest, '<=', $QRFaults::DEADLINE_MS,
        "$label: every answer within ${QRFaults::DEADLINE_MS} ms (slowest " . int($slowest) . ' ms)';
    my @bare = grep { $_->{status} == 503 && !($_->{retry_after} =~ /^\d+$/ && $_->{retry_after} >= 1) } @answered;
    is scalar @bare, 0, "$label: every 503 carries Retry-After";
    my @other = grep { $_->{status} >= 500 && $_->{status} != 503 && $_->{status} != 504 } @answered;
    is scalar @other, 0, "$label: no 5xx but 503 and 504"
        or diag $json->encode([@other[0 .. ($#other < 4 ? $#other : 4)]]);
    my %by;
    $by{ $_->{status} }++ for @$records;
    return sprintf '%d requests (%s), slowest %d ms, %d writes and %d scans acknowledged, all stored, '
        . '%d codes accepted once', scalar @$records,
        join(' ', map { ($_ == 599 ? 'no answer' : $_) . ":$by{$_}" } sort keys %by), $slowest,
        scalar @families, scalar @scans, scalar keys %accepted_answers;
}

# Checks the status of every record of @$records whose phase is in $phases (an array of
# phase names; 'crossing' stands for every request that ended in another phase than it
# began; undef for all) against %want: kind => 'status|status...' (board, history,
# family, scan).
sub expect_status {
    my ($self, $label, $records, $phases, %want) = @_;
    my %in = map { $_ => 1 } @{ $phases // [] };
    my @checked = grep { !$phases || $in{ $_->{phase} =~ />/ ? 'crossing' : $_->{phase} } } @$records;
    my @bad = grep { $_->{status} !~ /^(?:$want{ $_->{kind} })\z/ } @checked;
    ok @checked && !@bad, "$label: " . join(', ', map { "$_ $want{$_}" } sort keys %want)
        . ' (' . @checked . ' requests)'
        or diag(@checked ? $json->encode([@bad[0 .. ($#bad < 4 ? $#bad : 4)]]) . ' ... ' . @bad . ' in all'
                         : 'no request in that phase');
    return @checked;
}

# The breaker $breaker's transitions counted by /metrics, as "from>to" => count.
sub breaker_moves {
    my ($self, $breaker) = @_;
    my %moves;
    for my $m ([qw(closed open)], [qw(open half_open)], [qw(half_open closed)], [qw(half_open open)]) {
        $moves{"$m->[0]>$m->[1]"} = $self->{gw}->metric('qr_gateway_breaker_transitions_total',
            breaker => $breaker, from => $m->[0], to => $m->[1]) // 0;
    }
    return \%moves;
}

# After a fault of the server behind $breaker: it opened, and closed again by itself.
sub breaker_cycled {
    my ($self, $label, $breaker, $before) = @_;
    my $after = $self->breaker_moves($breaker);
    cmp_ok $after->{'closed>open'}, '>', $before->{'closed>open'}, "$label: the $breaker breaker opened";
    ok wait_until(10, sub { $self->{gw}->metric('qr_gateway_breaker_state', breaker => $breaker) == 0 }),
        "$label: ... and is closed again";
}

# Runs $body as the fault $name: prints and records "fault <name>: pass|FAIL (...)" from
# whether every test it ran passed and the figures it returns.
sub fault {
    my ($self, $name, $body) = @_;
    my $tb = Test::More->builder;
    my $first = $tb->current_test;
    my $figures = eval { $body->() } // '';
    if (my $err = $@) { fail("$name: $err") }
    my @results = ($tb->summary)[$first .. $tb->current_test - 1];
    my $verdict = (@results && !grep { !$_ } @results) ? 'pass' : 'FAIL';
    my $line = "fault $name: $verdict" . (length $figures ? " ($figures)" : '');
    $tb->diag($line) if $ENV{QR_FAULTS_RESULTS} || $verdict ne 'pass';
    if ($verdict ne 'pass') {
        # What the gateways logged as errors, or refused before routing, says why.
        my @lines = grep { ($_->{level} // '') =~ /^(warn|error)$/
            || ($_->{msg} // '') eq 'request refused before routing' } map { $_->log_lines } @{ $self->{gateways} };
        $tb->diag($json->encode($_)) for @lines[($#lines > 40 ? $#lines - 40 : 0) .. $#lines];
    }
    if (my $file = $ENV{QR_FAULTS_RESULTS}) {
        open my $fh, '>>', $file or die "$file: $!";
        print {$fh} "$line\n";
        close $fh;
    }
    return $verdict eq 'pass';
}

package QRFaults::Load;

use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep time);

my @FIELDS = qw(worker seq kind t0 ms status retry_after cache key accepted code error);

# A worker's loop: paced requests until SIGTERM or its time is up, one line per request
# appended (and flushed) to its own file, so a record survives whatever happens next.
sub work {
    my ($self, $n, $rate, $seconds, $kinds) = @_;
    my $w = $self->{world};
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    srand($$ ^ time);
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
    open my $out, '>>', "$self->{dir}/worker-$n" or die "load: $!";
    $out->autoflush(1);
    my $base = 'http://127.0.0.1:' . $w->{gw}->port;
    my $auth = { Authorization => "Bearer $w->{token}", 'Content-Type' => 'application/json' };
    my $end = time + $seconds;
    my $next = time;
    for (my $seq = 1; !$stop && time < $end; $seq++) {
        my $kind = $kinds->[int rand @$kinds];
        my $code = int rand @{ $w->{codes} };
        my ($method, $path, $body, $key) = ('GET');
        if ($kind eq 'board') {
            $path = "/api/games/$w->{game}/leaderboard";
        } elsif ($kind eq 'history') {
            $path = "/api/qr/$w->{codes}[$code]/history";
        } elsif ($kind eq 'family') {
            ($method, $path, $key) = ('POST', "/api/events/$w->{event}/families", "load-$$-$seq");
            $body = qq({"name":"$key"});
        } else {
            ($method, $path, $key) = ('POST', "/api/qr/$w->{codes}[$code]/scan", "load-$$-$seq");
            $body = qq({"gate":"gate-$n","device":"$key"});
        }
        my $t0 = time;
        my $res = $http->request($method, $base . $path,
            { headers => $kind eq 'board' ? {} : $auth, defined $body ? (content => $body) : () });
        my $ms = (time - $t0) * 1000;
        my $data = eval { JSON::PP::decode_json($res->{content}) };
        my $error = $res->{status} =~ /^2/ ? '' : ref $data eq 'HASH' ? join(': ', grep { defined } $data->{error}{code}, $data->{error}{message})
            : substr($res->{content} // '', 0, 80) =~ s/\s+/ /gr;
        my %r = (worker => $n, seq => $seq, kind => $kind, t0 => sprintf('%.4f', $t0),
                 ms => sprintf('%.1f', $ms), status => $res->{status},
                 retry_after => $res->{headers}{'retry-after'} // '',
                 cache => ref $data eq 'HASH' ? $data->{meta}{cache} // '' : '', key => $key // '',
                 accepted => $kind eq 'scan' && !$error && ref $data eq 'HASH' ? ($data->{data}{accepted} ? 1 : 0) : '',
                 code => $code, error => $error);
        print {$out} join("\t", @r{@FIELDS}), "\n";
        $next += 1 / $rate;
        my $now = time;
        if ($next > $now) { sleep $next - $now } else { $next = $now }
    }
    close $out;
}

# Notes the time a phase of the fault began.
sub mark { my ($self, $name) = @_; push @{ $self->{marks} }, [$name, time]; return time; }

# Stops the workers (each finishes its request in flight) and returns every record, each
# with {phase}: the phase (last mark) it began in, or "began>ended" when it ended in a
# later one.
sub stop {
    my ($self) = @_;
    kill 'TERM', @{ $self->{pids} };
    waitpid $_, 0 for @{ $self->{pids} };
    my @records;
    for my $file (glob "$self->{dir}/worker-*") {
        open my $fh, '<', $file or die "$file: $!";
        while (my $line = <$fh>) {
            chomp $line;
            my %r;
            @r{@FIELDS} = split /\t/, $line, -1;
            push @records, \%r;
        }
    }
    @records = sort { $a->{t0} <=> $b->{t0} } @records;
    my $phase_at = sub {
        my ($t) = @_;
        my @before = grep { $_->[1] <= $t } @{ $self->{marks} };
        return $before[-1][0];
    };
    for my $r (@records) {
        my ($began, $ended) = map { $phase_at->($_) } $r->{t0}, $r->{t0} + $r->{ms} / 1000;
        $r->{phase} = $began eq $ended ? $began : "$began>$ended";
    }
    return @records;
}

1;
