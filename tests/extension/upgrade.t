# The upgrade path of the qr_event extension. Installing the oldest release and updating
# it step by step (ALTER EXTENSION ... UPDATE along pg_extension_update_paths) must give
# the same objects as a fresh CREATE EXTENSION: same members, same pg_dump registration,
# same privileges, and the same schema-only pg_dump. Every shipped version must be
# reachable from 0.1.0, every extension/qr_event--A--B.sql must lie on a path to the
# default version and is walked through at least once, and the installed scripts must be
# the repository's. Uses PGHOST/PGPORT/PGUSER; creates its own databases, dropped at the end.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp ();
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql literal scratch_database);

my $first_release = '0.1.0';
my $root = $ENV{QR_TEST_ROOT} // File::Spec->rel2abs(dirname(__FILE__) . '/../..');
my $extdir = "$root/extension";
# Orders dotted version numbers numerically, part by part.
sub version_cmp {
    my @a = split /\./, $_[0];
    my @b = split /\./, $_[1];
    while (@a || @b) {
        my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
        return $c if $c;
    }
    return 0;
}

# The versions after $from on the shortest update path to $to: () when they are equal,
# undef when there is no path.
sub path_between {
    my ($db, $from, $to) = @_;
    return () if $from eq $to;
    my $path = psql($db, 'SELECT path FROM pg_extension_update_paths(' . literal('qr_event')
        . ') WHERE source = ' . literal($from) . ' AND target = ' . literal($to));
    return undef if $path eq '';
    my @steps = split /--/, $path;
    shift @steps;
    return @steps;
}

# Everything a DBA relies on, as text: members, pg_dump registration, privileges,
# comments and the library version; then the schema-only dump with the objects
# detached from the extension (pg_dump does not print extension members otherwise).
sub fingerprint {
    my ($db) = @_;
    my %f;
    $f{members} = psql($db, q{
        SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
                          ORDER BY pg_describe_object(classid, objid, objsubid) COLLATE "C")
        FROM pg_depend
        WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
          AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'qr_event')});
    $f{config_dump} = psql($db, q{
        SELECT string_agg(c.config::regclass::text || ' ' || c.cond, E'\n'
                          ORDER BY c.config::regclass::text COLLATE "C")
        FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c (config, cond)
        WHERE e.extname = 'qr_event'});
    $f{privileges} = psql($db, q{
        SELECT string_agg(x, E'\n' ORDER BY x COLLATE "C") FROM (
            SELECT c.relname || ' ' || coalesce(c.relacl::text, '') AS x
            FROM pg_class c WHERE c.relnamespace = 'qr_event'::regnamespace
            UNION ALL
            SELECT c.relname || '.' || a.attname || ' ' || a.attacl::text
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relnamespace = 'qr_event'::regnamespace AND a.attacl IS NOT NULL
            UNION ALL
            SELECT p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '')
            FROM pg_proc p WHERE p.pronamespace = 'qr_event'::regnamespace
            UNION ALL
            SELECT 'schema ' || coalesce(nspacl::text, '') FROM pg_namespace
            WHERE nspname = 'qr_event') AS t});
    $f{version} = psql($db, q{
        SELECT extversion || ' ' || qr_event.version() FROM pg_extension WHERE extname = 'qr_event'});
    psql($db, q{
        DO $$
        DECLARE
            member record;
        BEGIN
            FOR member IN
                SELECT o.type, o.identity
                FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) AS o
                WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'qr_event')
            LOOP
                EXECUTE format('ALTER EXTENSION qr_event DROP %s %s', member.type, member.identity);
            END LOOP;
        END
        $$});
    open my $fh, '-|', 'pg_dump', '--schema-only', '--schema=qr_event', $db
        or die "cannot run pg_dump: $!\n";
    my @lines = grep { !/^(--|SET |SELECT pg_catalog\.set_config|\\(un)?restrict )/ && /\S/ } <$fh>;
    close $fh;
    die "pg_dump of $db failed\n" if $?;
    $f{dump} = join '', @lines;
    return \%f;
}

# Compares two fingerprints, one test per part; shows a diff of the dumps when they differ.
sub same_objects {
    my ($got, $want, $what) = @_;
    for my $part (qw(version members config_dump privileges)) {
        is $got->{$part}, $want->{$part}, "$what: same $part";
    }
    my $same = ok $got->{dump} eq $want->{dump}, "$what: same schema-only pg_dump";
    if (!$same) {
        my ($a, $b) = (File::Temp->new, File::Temp->new);
        print $a $want->{dump};
        print $b $got->{dump};
        close $a;
        close $b;
        diag `diff -u $a $b`;
    }
}

# Installs $versions[0], updates through the rest one step at a time, and compares the
# result with a fresh CREATE EXTENSION.
sub walk {
    my ($fresh, @versions) = @_;
    my $db = scratch_database('qr_t_upgrade');
    my $what = join ' -> ', @versions;
    psql($db, 'CREATE EXTENSION qr_event VERSION ' . literal($versions[0]));
    for my $next (@versions[1 .. $#versions]) {
        psql($db, 'ALTER EXTENSION qr_event UPDATE TO ' . literal($next));
        is psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'qr_event'}), $next,
            "$what: updated to $next";
    }
    is psql($db, 'SELECT qr_event.version()'), $versions[-1],
        "$what: the loaded library is version $versions[-1]";
    same_objects(fingerprint($db), $fresh, $what);
}

# --- the scripts of the repository ---------------------------------------------------------
opendir my $dh, $extdir or die "$extdir: $!\n";
my @scripts = sort grep { /^qr_event--.+\.sql\z/ } readdir $dh;
closedir $dh;
my (@full, @updates, %versions);
for my $script (@scripts) {
    my @parts = split /--/, substr($script, length('qr_event--'), -length('.sql'));
    if (@parts == 1) {
        push @full, $parts[0];
    } elsif (@parts == 2) {
        push @updates, [@parts];
    } else {
        fail "$script is named qr_event--VERSION.sql or qr_event--FROM--TO.sql";
        next;
    }
    $versions{$_} = 1 for @parts;
}
@full = sort { version_cmp($a, $b) } @full;
ok scalar(@full), 'there is a full install script' or BAIL_OUT('no extension/qr_event--X.sql');
ok((grep { $_ eq $first_release } @full), "the first release $first_release has a full install script");
my $oldest = $full[0];

open my $ch, '<', "$extdir/qr_event.control" or die "qr_event.control: $!\n";
my ($default) = map { /^\s*default_version\s*=\s*'([^']+)'/ ? $1 : () } <$ch>;
close $ch;
ok defined $default, "qr_event.control names the default version ($default)";
$versions{$default} = 1;

# --- the installation matches the repository ----------------------------------------------
my $fresh_db = scratch_database('qr_t_upgrade');
is psql($fresh_db, q{SELECT default_version FROM pg_available_extensions WHERE name = 'qr_event'}),
    $default, 'the installed control file has the same default version';
is psql($fresh_db, q{SELECT string_agg(version, ' ' ORDER BY version) FROM pg_available_extension_versions
                     WHERE name = 'qr_event'}),
    join(' ', sort keys %versions), 'the server offers exactly the versions of the repository';
my $sharedir = psql($fresh_db, q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'});
for my $script (@scripts) {
    my $installed = "$sharedir/extension/$script";
    my $same = -e $installed && system('cmp', '-s', "$extdir/$script", $installed) == 0;
    ok $same, "$script is installed as in the repository" or diag 'run make install';
}

# --- every version and every update script on a path ----------------------------------------
for my $version (sort { version_cmp($a, $b) } keys %versions) {
    my @path = path_between($fresh_db, $first_release, $version);
    ok defined $path[0] || $version eq $first_release, "$version is reachable from $first_release";
}
for my $update (@updates) {
    my ($from, $to) = @$update;
    my @before = path_between($fresh_db, $oldest, $from);
    my @after = path_between($fresh_db, $to, $default);
    ok((defined $before[0] || $from eq $oldest) && (defined $after[0] || $to eq $default),
        "qr_event--$from--$to.sql lies on a path from $oldest to $default");
}

# --- the walks ---------------------------------------------------------------------------------
psql($fresh_db, 'CREATE EXTENSION qr_event');
my $fresh = fingerprint($fresh_db);
like $fresh->{dump}, qr/CREATE TABLE qr_event\.accounts/, 'the dump of a fresh install shows its tables';

my @main = ($oldest, path_between($fresh_db, $oldest, $default));
ok defined $main[-1], "the default version $default is reachable from $oldest";
walk($fresh, @main);

my %walked = map { ("$main[$_]--$main[$_ + 1]" => 1) } 0 .. $#main - 1;
for my $update (@updates) {
    my ($from, $to) = @$update;
    next if $walked{"$from--$to"};
    my @before = path_between($fresh_db, $oldest, $from);
    my @after = path_between($fresh_db, $to, $default);
    next unless (defined $before[0] || $from eq $oldest) && (defined $after[0] || $to eq $default);
    walk($fresh, $oldest, @before, $to, @after);
}

done_testing;
