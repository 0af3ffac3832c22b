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

our @EXPORT_OK = qw(free_port start_gateway start_redis json wait_until);

my @cleanups;

# Cleanups reap children, which sets $?: keep the test's own exit status.
END { local $?; $_->() for reverse @cleanups; }

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

# Starts qr_gateway with the test servers plus %opts{env}; returns its handle. Rate limits
# are off unless the test turns them on (QR_GATEWAY_RATE_LIMITS => 'on'): the suites call
# far faster than any caller may.
sub start_gateway {
    my (%opts) = @_;
    my $port = free_port();
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
    push @cleanups, sub { $gw->stop('KILL') };
    wait_until(15, sub { $gw->alive && $gw->get('/healthz')->{status} == 200 })
        or die "qr_gateway did not start:\n" . $gw->log_text;
    return $gw;
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
             json => QRTest::json($body // '') };
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

1;
