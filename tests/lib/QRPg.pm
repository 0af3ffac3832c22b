# Helpers for the Perl tests that talk to the throwaway cluster through psql
# (PGHOST/PGPORT/PGUSER come from tests/harness/test.sh): run SQL, quote literals,
# and scratch databases that are dropped when the test ends, also when it dies.
package QRPg;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(psql literal scratch_database);

my @databases;

END {
    local $?;
    system('psql', '-X', '-q', '-d', 'postgres', '-c', qq{DROP DATABASE IF EXISTS "$_"})
        for @databases;
}

# Runs SQL in a database and returns its output (unaligned, tuples only), dying on error.
sub psql {
    my ($db, $sql) = @_;
    open my $fh, '-|', 'psql', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', $db,
        '-c', $sql
        or die "cannot run psql: $!\n";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "psql failed in $db on: $sql\n" if $?;
    $out =~ s/\n\z//;
    return $out;
}

# Quotes a string as an SQL literal (standard_conforming_strings is on).
sub literal {
    my ($s) = @_;
    $s =~ s/'/''/g;
    return "'$s'";
}

# Creates a database named after $prefix and this process; dropped at exit.
sub scratch_database {
    my ($prefix) = @_;
    my $name = sprintf '%s_%d_%d', $prefix, $$, scalar @databases;
    psql('postgres', qq{CREATE DATABASE "$name"});
    push @databases, $name;
    return $name;
}

1;
