# The command line: --help, --version, --check-config, precedence of defaults <
# file < environment < flags, and invalid settings stopping the start (status 2).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use File::Temp ();
use IO::Socket::INET;

my $bin = $ENV{QR_TEST_GATEWAY};
my $secret = 's' x 40;

# Runs the gateway with %env (QR_GATEWAY_* cleared first) and args; returns (status, output).
sub gw {
    my ($env, @args) = @_;
    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^QR_GATEWAY_/ } keys %ENV;
    $ENV{$_} = $env->{$_} for keys %$env;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec($bin, @args) or exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

my ($st, $out) = gw({}, '--help');
is $st, 0, '--help exits 0';
for my $env (qw(QR_GATEWAY_LISTEN QR_GATEWAY_DB QR_GATEWAY_DB_REPLICAS QR_GATEWAY_REDIS
                QR_GATEWAY_JWT_SECRET QR_GATEWAY_CONFIG)) {
    like $out, qr/\Q$env\E/, "--help lists $env";
}
like $out, qr/127\.0\.0\.1:8080/, '--help shows the listen default';
like $out, qr/127\.0\.0\.1:6379/, '--help shows the redis default';

($st, $out) = gw({}, '--version');
is $st, 0, '--version exits 0';
like $out, qr/^qr_gateway \d+\.\d+\.\d+$/m, '--version prints the version';

my %base = (QR_GATEWAY_DB => 'host=/tmp dbname=x password=hunter2', QR_GATEWAY_JWT_SECRET => $secret);
($st, $out) = gw(\%base, '--check-config');
is $st, 0, '--check-config with valid settings exits 0';
like $out, qr/^listen = 127\.0\.0\.1:8080 \(default\)$/m, 'listen default shown';
like $out, qr/^db = .* \(env\)$/m, 'db from the environment';
unlike $out, qr/hunter2/, 'passwords in conninfo are masked';
unlike $out, qr/\Q$secret\E/, 'the JWT secret is masked';

my $file = File::Temp->new(SUFFIX => '.conf');
print $file "# gateway settings\n\nlisten = 127.0.0.1:9001\nredis = \"127.0.0.1:7000\"\n"
    . "threads = 7\n";
close $file;
($st, $out) = gw({ %base, QR_GATEWAY_CONFIG => $file->filename, QR_GATEWAY_REDIS => '127.0.0.1:7001' },
                 '--check-config', '--threads', '9');
is $st, 0, 'config file accepted';
like $out, qr/^listen = 127\.0\.0\.1:9001 \(file\)$/m, 'file beats default';
like $out, qr/^redis = 127\.0\.0\.1:7001 \(env\)$/m, 'environment beats file';
like $out, qr/^threads = 9 \(flag\)$/m, 'flag beats file';
($st, $out) = gw(\%base, '--check-config', "--config=" . $file->filename, '--listen=127.0.0.1:9002');
like $out, qr/^listen = 127\.0\.0\.1:9002 \(flag\)$/m, '--name=value flags';

my @bad = (
    [{ QR_GATEWAY_LISTEN => 'nonsense' }, qr/invalid setting listen \(QR_GATEWAY_LISTEN\)/],
    [{ QR_GATEWAY_LISTEN => '127.0.0.1:70000' }, qr/invalid setting listen/],
    [{ QR_GATEWAY_REDIS => 'localhost' }, qr/invalid setting redis \(QR_GATEWAY_REDIS\)/],
    [{ QR_GATEWAY_THREADS => '0' }, qr/invalid setting threads \(QR_GATEWAY_THREADS\)/],
    [{ QR_GATEWAY_THREADS => '12abc' }, qr/invalid setting threads/],
    [{ QR_GATEWAY_JWT_SECRET => 'short' }, qr/invalid setting jwt_secret \(QR_GATEWAY_JWT_SECRET\)/],
    [{ QR_GATEWAY_DB => 'host=/tmp bogus_keyword=1' }, qr/invalid setting db \(QR_GATEWAY_DB\)/],
    [{ QR_GATEWAY_DB_REPLICAS => 'host=/tmp,bogus_keyword=1' }, qr/invalid setting db_replicas/],
    [{ QR_GATEWAY_REPLICA_CHECK_MS => '5' }, qr/invalid setting replica_check_ms \(QR_GATEWAY_REPLICA_CHECK_MS\)/],
    [{ QR_GATEWAY_REPLICA_MAX_LAG_MS => '-1' }, qr/invalid setting replica_max_lag_ms/],
    [{ QR_GATEWAY_REPLICA_CHECK_MS => '10', QR_GATEWAY_REPLICA_MAX_LAG_MS => '20000' },
     qr/invalid setting replica_max_lag_ms \(QR_GATEWAY_REPLICA_MAX_LAG_MS\): 20000 is more than 1023 checks of replica_check_ms \(10230 ms\)/],
    [{ QR_GATEWAY_LOG_LEVEL => 'loud' }, qr/invalid setting log_level/],
    [{ QR_GATEWAY_ACCESS_LOG => 'maybe' }, qr/invalid setting access_log/],
    [{ QR_GATEWAY_MAX_BODY_BYTES => '-5' }, qr/invalid setting max_body_bytes/],
    [{ QR_GATEWAY_CONFIG => '/nonexistent/qr.conf' }, qr/config|nonexistent/],
);
for my $case (@bad) {
    my ($env, $re) = @$case;
    ($st, $out) = gw({ %base, %$env }, '--check-config');
    my ($k) = keys %$env;
    is $st, 2, "$k=$env->{$k}: exit status 2";
    like $out, $re, "$k=$env->{$k}: the message names the setting";
}
($st, $out) = gw({ QR_GATEWAY_JWT_SECRET => $secret }, '--check-config');
is $st, 2, 'missing db: exit 2';
like $out, qr/setting db \(QR_GATEWAY_DB\) is required/, 'missing db named';
($st, $out) = gw({ QR_GATEWAY_DB => 'host=/tmp' }, '--check-config');
like $out, qr/setting jwt_secret \(QR_GATEWAY_JWT_SECRET\) is required/, 'missing secret named';
($st, $out) = gw(\%base, '--frobnicate');
is $st, 2, 'unknown option: exit 2';
like $out, qr/unknown option --frobnicate/, 'unknown option named';

my $bad = File::Temp->new(SUFFIX => '.conf');
print $bad "listen = 127.0.0.1:9001\nno_such_setting = 1\n";
close $bad;
($st, $out) = gw({ %base, QR_GATEWAY_CONFIG => $bad->filename }, '--check-config');
is $st, 2, 'unknown key in the file: exit 2';
like $out, qr/\Q@{[$bad->filename]}\E:2.*no_such_setting/, 'names file, line and key';

# A port already in use: the start fails with a message naming the setting.
my $sock = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
($st, $out) = gw({ %base, QR_GATEWAY_LISTEN => '127.0.0.1:' . $sock->sockport });
is $st, 1, 'port in use: exit 1';
like $out, qr/listen/, 'port in use: names the listen setting';

done_testing;
