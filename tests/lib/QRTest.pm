# Helpers for the gateway integration tests: start qr_gateway (and, for fault tests,
# a private Redis) on free loopback ports, talk HTTP to it, and stop everything the
# test started, also when it dies. Servers come from tests/harness/test.sh's
# environment: QR_TEST_DB, QR_TEST_REDIS, QR_TEST_GATEWAY, QR_TEST_TMP.
package QRTest;

use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(stream_open stream_pump free_port start_gateway start_redis start_postgres psql_session json
                    wait_until);

my @cleanups;
my @gateways;    # every gateway start_gateway started, for sanitizer_reports

# Cleanups reap children, which sets $?: keep the test's own exit status. Under
# QR_TEST_SANITIZED (make test-asan) a sanitizer report in a gateway's log fails the test.
END {
    my $reports;
    {
        local $?;
        # One cleanup that dies must not leave the servers of the others running.
        for my $cleanup (reverse @cleanups) {
            eval { $cleanup->(); 1 } or print STDERR "# cleanup failed: $@";
        }
        $reports = sanitizer_reports();
    }
    if ($reports) {
        print STDERR map { "# $_\n" } split /\n/, $reports;
        $? ||= 1;
    }
}

# The AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer reports in the
# logs of the gateways this test started (each from its first line to the end of the
# log, which is where the sanitizers stop the gateway), or '' without any or when
# QR_TEST_SANITIZED is unset. LeakSanitizer reports only at a clean exit: under
# QR_TEST_SANITIZED the cleanups stop gateways with SIGTERM first.
sub sanitizer_reports {
    return '' unless $ENV{QR_TEST_SANITIZED};
    my $reports = '';
    for my $gw (@gateways) {
        my @lines = split /\n/, $gw->log_text;
        my ($first) = grep { $lines[$_] =~ /ERROR: (?:Address|Leak)Sanitizer|runtime error:/ }
            0 .. $#lines or next;
        my $last = $#lines < $first + 300 ? $#lines : $first + 300;
        $reports .= "sanitizer report in the log of the gateway on port $gw->{port}:\n"
            . join("\n", @lines[$first .. $last]) . "\n";
    }
    return $reports;
}

# A TCP port on 127.0.0.1 nothing listens on right now.
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp') or die "no free port: $!";
    return $s->sockport;
}

# Decodes a JSON text, or undef when it is not JSON.
sub json {
    my ($text) = @_;
    return eval { JSON::PP->new->utf8->decode($text) };
}

# Polls $cond every 50 ms for up to $seconds; true when it held.
sub wait_until {
    my ($seconds, $cond) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return $cond->();
}

# Starts a private Redis (as the postgres user when root) and returns its handle.
sub start_redis {
    my $dir = File::Temp::tempdir('qr_redis.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp',
                                  CLEANUP => 1);
    chmod 0777, $dir;
    my $redis = bless { port => free_port(), dir => $dir }, 'QRTest::Redis';
    push @cleanups, sub { $redis->terminate };
    $redis->spawn;
    return $redis;
}

# Starts qr_gateway with the test servers plus %opts{env} on a free port (or on
# %opts{port}); returns its handle. Rate limits are off unless the test turns them on
# (QR_GATEWAY_RATE_LIMITS => 'on'): the suites call far faster than any caller may.
sub start_gateway {
    my (%opts) = @_;
    my $port = $opts{port} // free_port();
    my $log = File::Temp->new(TEMPLATE => 'qr_gateway.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp',
                              SUFFIX => '.log');
    my %env = (
        QR_GATEWAY_LISTEN     => "127.0.0.1:$port",
        QR_GATEWAY_DB         => $ENV{QR_TEST_DB},
        QR_GATEWAY_REDIS      => $ENV{QR_TEST_REDIS},
        QR_GATEWAY_JWT_SECRET => 'test-secret-' . ('x' x 40),
        QR_GATEWAY_RATE_LIMITS => 'off',
        %{ $opts{env} // {} },
    );
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        delete $ENV{$_} for grep { /^QR_GATEWAY_/ } keys %ENV;
        $ENV{$_} = $env{$_} for keys %env;
        open STDOUT, '>>', $log->filename;
        open STDERR, '>&', \*STDOUT;
        exec($ENV{QR_TEST_GATEWAY}, @{ $opts{args} // [] }) or POSIX::_exit(127);
    }
    my $gw = bless { pid => $pid, port => $port, log => $log,
                     http => HTTP::Tiny->new(timeout => 15, keep_alive => 0) }, 'QRTest::Gateway';
    push @gateways, $gw;
    push @cleanups, sub { $gw->stop($ENV{QR_TEST_SANITIZED} ? 'TERM' : 'KILL') };
    wait_until(15, sub { $gw->alive && $gw->get('/healthz')->{status} == 200 })
        or die "qr_gateway did not start:\n" . $gw->log_text;
    return $gw;
}

# Runs the server programs as postgres when root (as tests/harness/servers.sh does).
sub as_server_user { return $> == 0 ? (qw(runuser -u postgres --), @_) : @_; }

# Runs a command with its output sent to $log (appended); true when it exited 0.
sub run_quietly {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec(@cmd) or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $? == 0;
}

# Starts a private PostgreSQL cluster (initdb, then pg_ctl as the postgres user when root)
# on a free loopback port, with its socket in a short /tmp folder, and creates database
# $opts{db} (default qr_test) with the qr_event extension. Returns its handle, whose
# ->stop('fast'|'immediate') and ->start the fault tests use; stopped and removed at exit.
# synchronous_commit stays on, so a commit answered before a crash of the server (not of
# the machine: fsync is off) survives it.
sub start_postgres {
    my (%opts) = @_;
    my $db = $opts{db} // 'qr_test';
    my $root = File::Temp::tempdir('qr_pg.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp',
                                   CLEANUP => 1);
    my $sock = File::Temp::tempdir('qr_pgs.XXXXXX', DIR => '/tmp', CLEANUP => 1);
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres') or die "no postgres user";
        chown $uid, $gid, $root, $sock;
    }
    chmod 0755, $root, $sock;
    my $pg = bless { bin => $ENV{QR_TEST_PGBIN} // '/usr/lib/postgresql/15/bin',
                     data => "$root/data", log => "$root/pg.log", sockdir => $sock,
                     port => free_port(), db => $db }, 'QRTest::Postgres';
    run_quietly("$root/initdb.log", as_server_user("$pg->{bin}/initdb", '-D', $pg->{data},
                '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N'))
        or die "initdb failed:\n" . `cat $root/initdb.log`;
    open my $conf, '>>', "$pg->{data}/postgresql.conf" or die "postgresql.conf: $!";
    print {$conf} "listen_addresses = '127.0.0.1'\nport = $pg->{port}\n",
        "unix_socket_directories = '$sock'\nfsync = off\nfull_page_writes = off\n";
    close $conf;
    push @cleanups, sub { $pg->stop('immediate') if $pg->{running} };
    $pg->start or die "postgres did not start:\n" . `cat $pg->{log}`;
    $pg->psql('postgres', qq{CREATE DATABASE "$db"});
    $pg->psql($db, 'CREATE EXTENSION qr_event');
    return $pg;
}

# Opens a psql session on $db that stays connected until ->close, so that it can hold
# locks (->run('BEGIN; LOCK TABLE ...')); its output is dropped. %env overrides PG*.
sub psql_session {
    my ($db, %env) = @_;
    pipe(my $from, my $to) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $to;
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<&', $from;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec('psql', '-X', '-q', '-d', $db) or POSIX::_exit(127);
    }
    close $from;
    $to->autoflush(1);
    my $session = bless { pid => $pid, fh => $to }, 'QRTest::Session';
    push @cleanups, sub { $session->close };
    return $session;
}


# A live stream read from a raw socket (HTTP::Tiny would wait for the whole body):
# stream_open sends the request and reads the head ({status}, {headers}); stream_pump
# reads until $cond->($st) holds or $seconds pass, collecting each block ({blocks}),
# heartbeat times ({beats}) and events ({events}: event, id, data decoded, at).
sub stream_open {
    my ($g, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $g->port, Timeout => 5) or die "connect: $!";
    syswrite $s, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    my $st = { sock => $s, buf => '', events => [], beats => [], blocks => [] };
    stream_pump($st, 5, sub { defined $st->{status} });
    return $st;
}
sub stream_pump {
    my ($st, $seconds, $cond) = @_;
    my $deadline = time + $seconds;
    until ($cond->($st) || time >= $deadline || $st->{closed}) {
        my $rin = '';
        vec($rin, fileno($st->{sock}), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.05) > 0;
        my $got = sysread $st->{sock}, my $chunk, 65536;
        $st->{closed} = 1 unless $got;
        $st->{buf} .= $chunk // '';
        if (!defined $st->{status} && $st->{buf} =~ s/\A(.*?)\r\n\r\n//s) {
            my ($status_line, @lines) = split /\r\n/, $1;
            ($st->{status}) = $status_line =~ m{^HTTP/1\.[01] (\d{3})};
            $st->{headers} = { map { my ($k, $v) = split /:\s*/, $_, 2; (lc $k => $v) } @lines };
        }
        next unless defined $st->{status};
        while ($st->{buf} =~ s/\A(.*?)\n\n//s) {
            my $block = $1;
            push @{ $st->{blocks} }, $block;
            push @{ $st->{beats} }, time if $block eq ': heartbeat';
            push @{ $st->{events} }, { event => $1, id => $2, data => QRTest::json($3), at => time }
                if $block =~ /^event: (.*)\nid: (\d+)\ndata: (.*)$/;
        }
    }
    return $cond->($st);
}

package QRTest::Redis;

use Time::HiRes qw(sleep);

# True when the private Redis answers PING.
sub ping {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Timeout => 1) or return 0;
    $s->send("PING\r\n");
    my $line = '';
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    select(my $rout = $rin, undef, undef, 1) or return 0;
    sysread($s, $line, 64);
    return $line =~ /^\+PONG/;
}

sub address { return "127.0.0.1:$_[0]{port}" }

# Runs redis-cli against this Redis and returns its output.
sub cli {
    my ($self, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port}, @args
        or die "redis-cli: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return $out;
}

# Sends a signal (STOP, CONT, ...) to the Redis process.
sub signal { my ($self, $sig) = @_; CORE::kill($sig, $self->{pid}); }

# Kills Redis (also when stopped) and reaps it.
sub terminate {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'CONT', $self->{pid};
    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    $self->{pid} = undef;
}

# Starts (or restarts, after terminate) the Redis process on the handle's port and folder.
sub spawn {
    my ($self) = @_;
    my @drop = $> == 0 ? (qw(setpriv --reuid=postgres --regid=postgres --clear-groups --)) : ();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec(@drop, 'redis-server', '--bind', '127.0.0.1', '--port', $self->{port},
             '--save', '', '--appendonly', 'no', '--dir', $self->{dir}) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    QRTest::wait_until(10, sub { $self->ping }) or die "redis did not start";
    return $self;
}

package QRTest::Gateway;

use Time::HiRes qw(sleep time);

sub port { return $_[0]{port} }
sub url { return "http://127.0.0.1:$_[0]{port}$_[1]" }

# True while the gateway process runs.
sub alive {
    my ($self) = @_;
    return 0 unless $self->{pid};
    return waitpid($self->{pid}, POSIX::WNOHANG()) == 0;
}

# One HTTP request; returns HTTP::Tiny's hash plus {json} (decoded body) and {ms}.
sub request {
    my ($self, $method, $path, $opts) = @_;
    my $t0 = time;
    my $res = $self->{http}->request($method, $self->url($path), $opts // {});
    $res->{ms} = (time - $t0) * 1000;
    $res->{json} = QRTest::json($res->{content} // '');
    return $res;
}

sub get { my ($self, $path, $opts) = @_; return $self->request('GET', $path, $opts); }

# One API request: token => a bearer token, body => data (sent as JSON) or text, type =>
# its Content-Type (JSON by default), after => QR-Read-After, etag => If-None-Match,
# headers => more headers, from => a loopback source address (request_from).
sub call {
    my ($self, $method, $path, %o) = @_;
    my %headers = %{ $o{headers} // {} };
    $headers{Authorization} = "Bearer $o{token}" if $o{token};
    $headers{'QR-Read-After'} = $o{after} if defined $o{after};
    $headers{'If-None-Match'} = $o{etag} if defined $o{etag};
    my %opts = (headers => \%headers);
    if (defined $o{body}) {
        $headers{'Content-Type'} = $o{type} // 'application/json';
        $opts{content} = ref $o{body} ? JSON::PP->new->canonical->encode($o{body}) : $o{body};
    }
    return $o{from} ? $self->request_from($o{from}, $method, $path, \%opts)
                    : $self->request($method, $path, \%opts);
}

# One HTTP request from another loopback address (127.0.0.2, ...): a different client
# IP address to the gateway. Returns what request returns.
sub request_from {
    my ($self, $ip, $method, $path, $opts) = @_;
    local $self->{http} = $self->{from}{$ip} //=
        HTTP::Tiny->new(timeout => 15, keep_alive => 0, local_address => $ip);
    return $self->request($method, $path, $opts);
}

# Sends a request without waiting for its answer (a new connection, closed after it,
# from $opts{from} when given); ->finish on the returned handle reads the answer.
sub start_request {
    my ($self, $method, $path, $opts) = @_;
    $opts //= {};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Timeout => 5, $opts->{from} ? (LocalAddr => $opts->{from}) : ())
        or die "connect: $!";
    $s->autoflush(1);
    my $body = $opts->{content} // '';
    my %headers = (Host => "127.0.0.1:$self->{port}", Connection => 'close',
                   %{ $opts->{headers} // {} });
    $headers{'Content-Length'} = length $body if length $body;
    local $SIG{PIPE} = 'IGNORE';
    print {$s} "$method $path HTTP/1.1\r\n", (map { "$_: $headers{$_}\r\n" } sort keys %headers),
        "\r\n", $body;
    return bless { socket => $s, started => time }, 'QRTest::Pending';
}

# The value of a /metrics sample: the sum of the lines of $name whose labels include
# all of %labels; undef when there is none.
sub metric {
    my ($self, $name, %labels) = @_;
    my $sum;
    for my $line (split /\n/, $self->get('/metrics')->{content} // '') {
        my ($n, $l, $v) = $line =~ /^([a-z_]+)(?:\{(.*)\})? (\S+)$/ or next;
        next unless $n eq $name;
        my %have = ($l // '') =~ /(\w+)="([^"]*)"/g;
        next if grep { ($have{$_} // "\0") ne $labels{$_} } keys %labels;
        $sum += $v;
    }
    return $sum;
}

# How many 5xx answers the gateway's /metrics counts, over every route and status.
sub server_errors {
    my ($self) = @_;
    my $errors = 0;
    for (split /\n/, $self->get('/metrics')->{content} // '') {
        $errors += $1 if /^qr_gateway_requests_total\{[^}]*status="5\d\d"[^}]*\} (\d+)/;
    }
    return $errors;
}

# Sends raw bytes and returns everything read until the server closes or $timeout.
sub raw {
    my ($self, $bytes, $timeout) = @_;
    $timeout //= 5;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Timeout => 5) or die "connect: $!";
    $s->autoflush(1);
    # The server may answer and close before it has read everything (e.g. a 400 on
    # oversized headers): a write to the closed socket must not kill the test.
    local $SIG{PIPE} = 'IGNORE';
    print {$s} $bytes;
    my $reply = '';
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, 0.2);
        next unless $n > 0;
        my $got = sysread($s, my $chunk, 65536);
        last unless $got;
        $reply .= $chunk;
    }
    return $reply;
}

# Parses a raw HTTP reply into status, headers (lower-case names) and JSON body.
sub parse_raw {
    my ($reply) = @_;
    my ($head, $body) = split /\r\n\r\n/, $reply, 2;
    return {} unless defined $head;
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.[01] (\d{3})};
    my %headers = map { my ($k, $v) = split /:\s*/, $_, 2; (lc $k => $v) } @lines;
    return { status => $status, headers => \%headers, content => $body,
             json => scalar QRTest::json($body // '') };
}

# Splits a raw reply holding several responses (keep-alive, pipelining) by their
# Content-Length and parses each.
sub parse_all {
    my ($reply) = @_;
    my @responses;
    while ($reply =~ /\r\n\r\n/) {
        my ($head, $rest) = split /\r\n\r\n/, $reply, 2;
        my ($length) = $head =~ /^content-length:\s*(\d+)/mi;
        $length //= length $rest;
        push @responses, parse_raw($head . "\r\n\r\n" . substr($rest, 0, $length));
        $reply = substr($rest, $length);
    }
    return @responses;
}

# Sends a signal to the gateway.
sub signal { my ($self, $sig) = @_; CORE::kill($sig, $self->{pid}); }

# Stops the gateway with $sig (TERM by default); returns its exit status or undef
# when it had to be killed after 20 s.
sub stop {
    my ($self, $sig) = @_;
    return $self->{exit} unless $self->{pid};
    kill $sig // 'TERM', $self->{pid};
    my $deadline = time + 20;
    while (time < $deadline) {
        my $r = waitpid $self->{pid}, POSIX::WNOHANG();
        if ($r == $self->{pid}) {
            $self->{exit} = $? >> 8;
            $self->{signalled} = $? & 127;
            $self->{pid} = undef;
            return $self->{exit};
        }
        sleep 0.05;
    }
    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    $self->{pid} = undef;
    return undef;
}

sub log_text {
    my ($self) = @_;
    open my $fh, '<', $self->{log}->filename or return '';
    local $/;
    return <$fh>;
}

# The gateway's log as decoded JSON objects (lines that are not JSON are skipped).
sub log_lines {
    my ($self) = @_;
    return grep { defined } map { QRTest::json($_) } split /\n/, $self->log_text;
}

package QRTest::Pending;

use Time::HiRes qw(time);

# Reads the answer of a request sent by start_request (until the server closes, at most
# $timeout seconds) and parses it as parse_raw does, plus {ms} since it was sent.
sub finish {
    my ($self, $timeout) = @_;
    my $s = $self->{socket};
    my $reply = '';
    my $deadline = time + ($timeout // 15);
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.05) > 0;
        my $got = sysread($s, my $chunk, 65536);
        last unless $got;
        $reply .= $chunk;
    }
    close $s;
    my $res = QRTest::Gateway::parse_raw($reply);
    $res->{ms} = (time - $self->{started}) * 1000;
    return $res;
}

package QRTest::Session;

# Sends SQL to the session's psql (it runs when psql reads it).
sub run { my ($self, $sql) = @_; print { $self->{fh} } "$sql\n"; }

# Ends the session (an open transaction rolls back) and reaps psql.
sub close {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::close $self->{fh};
    my $deadline = Time::HiRes::time() + 10;
    while (waitpid($self->{pid}, POSIX::WNOHANG()) == 0) {
        if (Time::HiRes::time() > $deadline) { kill 'KILL', $self->{pid}; waitpid $self->{pid}, 0; last }
        Time::HiRes::sleep(0.05);
    }
    $self->{pid} = undef;
}

package QRTest::Postgres;

# The libpq connection string of $db (default the handle's), over TCP.
sub conninfo {
    my ($self, $db) = @_;
    return "host=127.0.0.1 port=$self->{port} user=postgres dbname=" . ($db // $self->{db});
}

# The PG* variables that point psql at this cluster.
sub env { return (PGHOST => $_[0]{sockdir}, PGPORT => $_[0]{port}, PGUSER => 'postgres'); }

# Runs SQL as QRPg::psql does (unaligned, tuples only), dying on error.
sub psql {
    my ($self, $db, $sql) = @_;
    local @ENV{qw(PGHOST PGPORT PGUSER)} = @{ { $self->env } }{qw(PGHOST PGPORT PGUSER)};
    open my $fh, '-|', 'psql', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', $db,
        '-c', $sql or die "cannot run psql: $!\n";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "psql failed in $db on: $sql\n" if $?;
    $out =~ s/\n\z//;
    return $out;
}

# A psql session on this cluster (see QRTest::psql_session).
sub session { my ($self, $db) = @_; return QRTest::psql_session($db // $self->{db}, $self->env); }

# pg_ctl start (waiting until it accepts connections); true when it did.
sub start {
    my ($self) = @_;
    my $ok = QRTest::run_quietly("$self->{log}.ctl", QRTest::as_server_user("$self->{bin}/pg_ctl",
                                 '-D', $self->{data}, '-l', $self->{log}, '-w', '-t', '60', 'start'));
    $self->{running} = 1 if $ok;
    return $ok;
}

# pg_ctl stop -m $mode (fast, immediate); true when it stopped.
sub stop {
    my ($self, $mode) = @_;
    my $ok = QRTest::run_quietly("$self->{log}.ctl", QRTest::as_server_user("$self->{bin}/pg_ctl",
                                 '-D', $self->{data}, '-m', $mode // 'fast', '-w', '-t', '30', 'stop'));
    $self->{running} = 0 if $ok;
    return $ok;
}

1;
