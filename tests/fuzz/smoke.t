# Runs every built fuzz target (tests/fuzz/bin/, from make fuzz-build) for a few
# seconds on a scratch copy of its seed corpus: the seeds and the first mutations
# must not crash. Fails when no target was built.
use strict;
use warnings;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Test::More;

my $root    = $ENV{QR_TEST_ROOT} // '.';
my $bindir  = "$root/tests/fuzz/bin";
my $seconds = 4;

my @targets = grep { -f $_ && -x _ } glob("$bindir/*");
if (!@targets) {
    fail('fuzz targets are built');
    diag("no fuzz target in $bindir: run 'make fuzz-build' first");
    done_testing();
    exit;
}

for my $bin (@targets) {
    my ($name) = $bin =~ m{([^/]+)\z};
    my $work   = tempdir("fuzz-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    my $corpus = "$work/corpus";
    mkdir $corpus or die "$corpus: $!\n";
    for my $seed (glob("$root/tests/fuzz/corpus/$name/*")) {
        copy($seed, $corpus) or die "$seed: $!\n";
    }
    my @cmd = ($bin, "-max_total_time=$seconds", '-max_len=5000',
        "-artifact_prefix=$work/", $corpus);
    my $log = "$work/log";
    my $rc  = system(join(' ', map { quotemeta } @cmd) . ' >' . quotemeta($log) . ' 2>&1');
    my $output = do { local (@ARGV, $/) = $log; <> } // '';
    my $crashed = $output =~ /==\d+==ERROR|runtime error:|deadly signal|SUMMARY: \w+Sanitizer/;
    my @lines = split /\n/, $output;
    splice(@lines, 0, -20) if @lines > 20;
    ok($rc == 0 && !$crashed, "$name runs ${seconds}s without a crash")
        or diag("exit code " . ($rc >> 8) . ", signal " . ($rc & 127) . "; last lines of its output:\n" . join("\n", @lines));
}

done_testing();
