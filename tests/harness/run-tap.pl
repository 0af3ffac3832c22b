#!/usr/bin/env perl
# Runs TAP producers in one TAP::Harness and writes "passed failed" test-point counts
# to the file named first. pgTAP .sql files go through psql, .t files through perl,
# anything else (cmocka binaries) is executed with CMOCKA_MESSAGE_OUTPUT=TAP.
# A file that dies, exits non-zero or misses its plan counts as one more failure.
use strict;
use warnings;
use TAP::Harness;

my ($counts_file, @files) = @ARGV;
die "usage: run-tap.pl COUNTS_FILE FILE...\n" unless defined $counts_file;

$ENV{CMOCKA_MESSAGE_OUTPUT} = 'TAP';
my $harness = TAP::Harness->new({
    verbosity => $ENV{QR_TEST_VERBOSE} ? 1 : 0,
    timer     => 1,
    jobs      => $ENV{QR_TEST_JOBS} // 2,
    failures  => 1,
    errors    => 1,
    exec      => sub {
        my (undef, $file) = @_;
        return [qw(psql -X -q -t -A -v ON_ERROR_STOP=1 -f), $file] if $file =~ /\.sql\z/;
        return ['perl', $file] if $file =~ /\.t\z/;
        return [$file];
    },
});

my ($passed, $failed) = (0, 0);
if (@files) {
    my $aggregate = $harness->runtests(@files);
    for my $file ($aggregate->descriptions) {
        my ($parser) = $aggregate->parsers($file);
        my $file_failed = scalar($parser->failed);
        $passed += scalar($parser->passed);
        $file_failed++ if $file_failed == 0 && $parser->has_problems;
        $failed += $file_failed;
    }
}
open my $fh, '>', $counts_file or die "$counts_file: $!\n";
print $fh "$passed $failed\n";
close $fh;
