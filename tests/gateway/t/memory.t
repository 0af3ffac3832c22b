# The gateway's memory under load: 100,000 requests over keep-alive connections from
# four client processes, each pipelining its requests, through many paths of the
# pipeline: cached public leaderboards (hits, misses after writes, 304 for a current
# If-None-Match), private reads with a token (uncached QR history, cached event), 404s,
# 400s (bad query strings), 401s (bad tokens), 405s and a few hundred writes (plays
# and scans). The gateway's resident set (VmRSS) after a warm-up of 10,000 requests
# and after all 100,000 must differ by less than 20 MB; every answer must be a
# well-formed HTTP/1.1 answer with the status its request expects. Under make
# test-asan (QR_TEST_SANITIZED) the RSS bound is not checked: AddressSanitizer's
# quarantine holds freed memory back by design.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(time);
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $db = 'qr_test';
my $tag = "mem$$";
my $password = 'correct horse battery';
my $CLIENTS = 4;
my $WARMUP = 10_000;
my $TOTAL = 100_000;
my $WINDOW = 32;           # requests in flight per connection
my $MAX_GROWTH_MB = 20;

# --- fixtures, through psql and the gateway (as api.t) ---------------------------------------
sub row { my ($sql) = @_; my $id = psql($db, $sql); die "no id from: $sql" unless $id =~ /^\d+$/; return $id }
row("SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
    . literal("organiser-$tag\@example.com") . ', ' . literal($password) . ", 'Organiser')");

# A long database deadline: this test is about memory, and with the suite's heaviest tests
# running beside it a statement may take more than the default 2 s (a 504 is not a leak).
my $gw = start_gateway(env => { QR_GATEWAY_DB_TIMEOUT_MS => 20000 });
my $json = JSON::PP->new->canonical;
sub call { return $gw->call(@_) }
sub data_of {
    my ($what, $res, $status) = @_;
    die "$what: $res->{status} $res->{content}\n" unless $res->{status} == $status;
    return $res->{json}{data};
}
my $org = data_of('login', call('POST', '/api/auth/login',
    body => { email => "organiser-$tag\@example.com", password => $password }), 200)->{token};
my $event = data_of('event', call('POST', '/api/events', token => $org, body => { name => "Memory $tag",
    starts_at => '2020-01-01T18:00:00Z', ends_at => '2099-01-01T00:00:00Z' }), 201)->{id};
my $game = data_of('game', call('POST', "/api/events/$event/games", token => $org,
    body => { title => 'Darts', score_policy => 'best' }), 201)->{id};
psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
my @guests = map {
    data_of('guest', call('POST', "/api/events/$event/guests", token => $org,
        body => { first_name => "Guest$_", last_name => $tag }), 201)->{id}
} 1 .. 8;
my @qr = map { data_of('qr', call('POST', "/api/events/$event/guests/$_/qr", token => $org), 201)->{token} } @guests;
my @guest_tokens = map { data_of('guest login', call('POST', '/api/auth/guest', body => { qr_token => $_ }), 200)->{token} } @qr;
data_of('first play', call('POST', "/api/games/$game/play", token => $guest_tokens[$_], body => { score => 10 * $_ }), 200)
    for 0 .. $#guest_tokens;
my $etag = call('GET', "/api/games/$game/leaderboard?limit=10")->{headers}{etag} or die "no ETag\n";
# A bad signature: one character changed in the middle of it (the last one may only
# change padding bits).
(my $forged = $org) =~ s/(.)(.{10})$/($1 eq 'a' ? 'b' : 'a') . $2/e;

# --- the request mix ------------------------------------------------------------------------
# Request $i of client $c: [kind, expected statuses (regex), raw request]. Writes are one
# request in 300 (about 330 in all); the rest cycle through the 100 slots of mix($c).
my $host = 'Host: 127.0.0.1:' . $gw->port . "\r\n";
sub get {
    my ($path, %o) = @_;
    return "GET $path HTTP/1.1\r\n$host" . ($o{token} ? "Authorization: Bearer $o{token}\r\n" : '')
        . ($o{etag} ? "If-None-Match: $o{etag}\r\n" : '') . "\r\n";
}
sub post {
    my ($path, $token, $body) = @_;
    my $content = $json->encode($body);
    return "POST $path HTTP/1.1\r\n${host}Authorization: Bearer $token\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($content) . "\r\n\r\n$content";
}
my $board = "/api/games/$game/leaderboard?limit=10";
# Each client asks for its own missing ids and bad query strings: distinct keys, so the
# clients never coalesce on one another's computations.
sub mix {
    my ($c) = @_;
    my @slots = (
        (['leaderboard', qr/^200$/, get($board)]) x 30,
        (['if-none-match', qr/^(?:200|304)$/, undef]) x 15,    # the newest ETag seen, filled in
        (['private uncached', qr/^200$/, get("/api/qr/$qr[0]/history?limit=5", token => $org)]) x 10,
        (['private cached', qr/^200$/, get("/api/events/$event", token => $org)]) x 5,
        (['private list', qr/^200$/, get('/api/events?limit=5', token => $org)]) x 3,
        (['stats', qr/^200$/, get("/api/events/$event/stats", token => $org)]) x 3,
        (['games', qr/^200$/, get("/api/events/$event/games")]) x 2,
        (['healthz', qr/^200$/, get('/healthz')]) x 2,
        (['404 missing event', qr/^404$/, get('/api/events/' . (999999990 + $c), token => $org)]) x 4,
        (['404 no route', qr/^404$/, get("/api/nothing/here/$tag")]) x 2,
        (['404 missing game', qr/^404$/, get('/api/games/' . (999999990 + $c) . '/leaderboard')]) x 2,
        (['400 bad limit', qr/^400$/, get("/api/events?limit=abc$c", token => $org)]) x 4,
        (['400 repeated parameter', qr/^400$/, get("$board&limit=$c")]) x 3,
        (['400 bad rank_mode', qr/^400$/, get("/api/games/$game/leaderboard?rank_mode=nope$c")]) x 3,
        (['401 malformed token', qr/^401$/, get('/api/events', token => 'not.a.token')]) x 4,
        (['401 bad signature', qr/^401$/, get("/api/events/$event", token => $forged)]) x 4,
        (['401 no token', qr/^401$/, get("/api/events/$event/stats")]) x 2,
        (['405', qr/^405$/, "DELETE $board HTTP/1.1\r\n$host\r\n"]) x 2,
    );
    die 'the mix must have 100 slots, not ' . @slots unless @slots == 100;
    return \@slots;
}
sub request_of {
    my ($c, $slots, $i, $etag_now) = @_;
    if ($i % 300 == 299) {
        my $n = $c * 1_000_000 + $i;
        return ['play', qr/^200$/, post("/api/games/$game/play", $guest_tokens[$n % @guest_tokens],
                                        { score => $n % 1000, completed => JSON::PP::true })]
            if $i % 600 == 299;
        return ['scan', qr/^200$/, post("/api/qr/$qr[$n % @qr]/scan", $org, { gate => "Gate $n" })];
    }
    my $slot = $slots->[$i % 100];
    return $slot->[2] ? $slot : [$slot->[0], $slot->[1], get($board, etag => $etag_now)];
}

# --- the clients ------------------------------------------------------------------------------
# One answer off the front of $$buf: {status, headers, body}, or undef until it is complete.
sub take_answer {
    my ($buf) = @_;
    my $end = index($$buf, "\r\n\r\n");
    return undef if $end < 0;
    my ($line, @lines) = split /\r\n/, substr($$buf, 0, $end);
    my %h = map { my ($k, $v) = split /:\s*/, $_, 2; (lc $k => $v // '') } @lines;
    my ($status) = ($line // '') =~ m{^HTTP/1\.1 (\d{3}) \S} or return { bad => "status line: $line" };
    my $length = $status == 304 ? 0 : $h{'content-length'};
    return { bad => "no Content-Length: $line" } unless defined $length && $length =~ /^\d+$/;
    return undef if length($$buf) < $end + 4 + $length;
    my $body = substr($$buf, $end + 4, $length);
    substr($$buf, 0, $end + 4 + $length) = '';
    return { status => $status, headers => \%h, body => $body };
}

# What is wrong with an answer to $req (undef when nothing is). JSON answers are checked
# by their shape; one in 50 is decoded in full.
sub problem {
    my ($req, $a, $n) = @_;
    return $a->{bad} if $a->{bad};
    my ($status, $h, $body) = @$a{qw(status headers body)};
    return "status $status, expected $req->[1]" unless $status =~ $req->[1];
    return 'no X-Request-Id' unless ($h->{'x-request-id'} // '') =~ /^[0-9a-f]{32}$/;
    return 'no Date' unless $h->{date};
    return "Connection: $h->{connection}" unless ($h->{connection} // '') eq 'keep-alive';
    return length($body) ? 'a body on a 304' : undef if $status == 304;
    return "Content-Type $h->{'content-type'}" unless ($h->{'content-type'} // '') =~ m{^application/json};
    my $ok = $status < 400 ? 'true' : 'false';
    return "not an envelope with success $ok: " . substr($body, 0, 200)
        unless $body =~ /^\{"success":$ok,/ && $body =~ /\}\n?\z/;
    if ($n % 50 == 0) {
        my $doc = QRTest::json($body) or return 'not JSON: ' . substr($body, 0, 200);
        return 'no meta.request_id' unless ($doc->{meta}{request_id} // '') eq $h->{'x-request-id'};
    }
    return undef;
}

# Client $client sends requests $from .. $to - 1 of its sequence over one keep-alive
# connection, $WINDOW at a time, and writes a JSON summary to $out: answers by status,
# problems (the first few in full), the number of reconnections.
sub client {
    my ($client, $from, $to, $out) = @_;
    my %sum = (status => {}, problems => 0, examples => [], reconnects => 0);
    my $etag_now = $etag;
    my $slots = mix($client);
    my $sock;
    my $connect = sub {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw->port, Timeout => 10)
            or die "connect: $!";
        binmode $sock;
    };
    $connect->();
    my @pending;    # requests sent and not answered yet
    my $next = $from;
    my $buf = '';
    local $SIG{PIPE} = 'IGNORE';
    while ($next < $to || @pending) {
        my $out_bytes = '';
        while ($next < $to && @pending < $WINDOW) {
            my $req = request_of($client, $slots, $next++, $etag_now);
            push @pending, $req;
            $out_bytes .= $req->[2];
        }
        if (length $out_bytes) {
            defined syswrite($sock, $out_bytes) or die "write: $!";
        }
        my $deadline = time + 20;
        while (@pending) {
            my $a = take_answer(\$buf);
            if (!$a) {
                my $rin = '';
                vec($rin, fileno($sock), 1) = 1;
                die "client $client: no answer within 20 s\n" if time > $deadline;
                next unless select(my $rout = $rin, undef, undef, 1) > 0;
                my $got = sysread($sock, $buf, 262144, length $buf);
                if (!$got) {    # closed: send the unanswered ones again on a new connection
                    $sum{reconnects}++;
                    die "client $client: connection closed too often\n" if $sum{reconnects} > 20;
                    $buf = '';
                    $connect->();
                    syswrite($sock, join('', map { $_->[2] } @pending)) // die "write: $!";
                }
                next;
            }
            my $req = shift @pending;
            $sum{status}{$a->{status} // 'none'}++;
            $etag_now = $a->{headers}{etag} if $req->[0] eq 'leaderboard' && $a->{headers}{etag};
            my $why = problem($req, $a, $sum{answers}++);
            if ($why) {
                $sum{problems}++;
                push @{ $sum{examples} }, "$req->[0]: $why" if @{ $sum{examples} } < 5;
                die "client $client: framing lost: $why\n" if $a->{bad};
            }
            last if $next < $to && @pending < $WINDOW / 2;    # top the pipeline up
        }
    }
    close $sock;
    print {$out} $json->encode(\%sum), "\n";
}

# Runs the clients over requests [$from, $to) of each of their sequences in parallel;
# returns their summaries merged, and the seconds taken.
sub run_clients {
    my ($from, $to) = @_;
    my $t0 = time;
    my @kids;
    for my $c (0 .. $CLIENTS - 1) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $ok = eval { client($c, $from, $to, $w); 1 };
            print {$w} $json->encode({ died => $@ }), "\n" unless $ok;
            close $w;
            POSIX::_exit(0);    # not exit: the END cleanups belong to the test
        }
        close $w;
        push @kids, [$pid, $r];
    }
    my %all = (status => {}, problems => 0, examples => [], reconnects => 0, died => []);
    for my $kid (@kids) {
        my ($pid, $r) = @$kid;
        my $line = <$r>;
        waitpid $pid, 0;
        my $sum = QRTest::json($line // '') // { died => 'no summary' };
        if ($sum->{died}) { push @{ $all{died} }, $sum->{died}; next }
        $all{status}{$_} += $sum->{status}{$_} for keys %{ $sum->{status} };
        $all{$_} += $sum->{$_} for qw(problems reconnects);
        push @{ $all{examples} }, @{ $sum->{examples} };
    }
    return (\%all, time - $t0);
}

# 100000 as 100,000
sub thousands { return scalar reverse join ',', unpack '(A3)*', reverse $_[0] }

# The gateway's resident set, in kB
sub rss_kb {
    open my $fh, '<', "/proc/$gw->{pid}/status" or die "/proc/$gw->{pid}/status: $!";
    my ($kb) = join('', <$fh>) =~ /^VmRSS:\s+(\d+) kB/m or die "no VmRSS\n";
    return $kb;
}

# --- the run ----------------------------------------------------------------------------------
my ($warm, $warm_s) = run_clients(0, $WARMUP / $CLIENTS);
my $rss_warm = rss_kb();
my ($main, $main_s) = run_clients($WARMUP / $CLIENTS, $TOTAL / $CLIENTS);
my $rss_end = rss_kb();

ok $gw->alive, 'the gateway is still running';
for my $run ([$warm, 'warm-up', $WARMUP], [$main, 'main run', $TOTAL - $WARMUP]) {
    my ($sum, $name, $n) = @$run;
    is_deeply $sum->{died}, [], "$name: every client finished" or diag explain $sum->{died};
    my $answers = 0;
    $answers += $_ for values %{ $sum->{status} };
    is $answers, $n, "$name: $n answers";
    is $sum->{problems}, 0, "$name: each well-formed with its expected status"
        or diag explain $sum->{examples};
    is $sum->{reconnects}, 0, "$name: the keep-alive connections stayed open";
}
my %status;
for my $sum ($warm, $main) { $status{$_} += $sum->{status}{$_} for keys %{ $sum->{status} } }
diag 'statuses: ' . join(', ', map { "$_ x $status{$_}" } sort keys %status);
cmp_ok $status{$_} // 0, '>', 300, "some $_ answers" for qw(200 304 400 401 404 405);
my %sent;
for my $c (0 .. $CLIENTS - 1) { $sent{ request_of($c, undef, $_, '')->[0] }++ for grep { $_ % 300 == 299 } 0 .. $TOTAL / $CLIENTS - 1 }
is psql($db, "SELECT count(*) FROM qr_event.qr_code_events WHERE event_id = $event AND type LIKE 'scan%'"),
    $sent{scan}, "each of the $sent{scan} scans recorded once";
diag sprintf '%d requests in %.1f s (%.0f/s), %d of them plays and %d scans', $TOTAL, $warm_s + $main_s,
    $TOTAL / ($warm_s + $main_s), $sent{play}, $sent{scan};

my $growth_mb = ($rss_end - $rss_warm) / 1024;
diag sprintf 'RSS %.1f MB after warm-up, %.1f MB after %s requests (%+.1f MB)', $rss_warm / 1024,
    $rss_end / 1024, thousands($TOTAL), $growth_mb;
SKIP: {
    skip 'AddressSanitizer holds freed memory in its quarantine', 1 if $ENV{QR_TEST_SANITIZED};
    cmp_ok $growth_mb, '<', $MAX_GROWTH_MB,
        "RSS grew by less than $MAX_GROWTH_MB MB over " . thousands($TOTAL - $WARMUP) . ' requests';
}

done_testing;
