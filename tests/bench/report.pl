#!/usr/bin/perl
# The report of a make bench run (run by tests/bench/run.sh after the sections).
#
#     report.pl --in DIR --out DIR [--rows N] [--all-sections "a b ..."]
#               [--postgresql VERSION] [--redis VERSION] [--publish DIR]
#
# Reads --in/sections.tsv (the sections of the run: name, title, exit status, seconds)
# and, for each, --in/<section>.tsv (its figures, columns in tests/bench/lib.sh) and
# --in/<section>.md (its tables). Writes into --out:
#     report.md    date, commit, machine; one table of every figure; a chart per
#                  section; then each section's tables
#     report.json  the same data, numbers as JSON numbers
#     <section>.png  measured beside baseline for every figure with a baseline (gnuplot)
# --publish copies the three kinds of files to another folder (after removing the
# report files already there) unless a section failed.
# Prints "bench: N targets, M met: pass" (or FAIL) last; exits 1 when a target was
# missed or a section failed or left no figures.
use strict;
use warnings;
use utf8;
use Getopt::Long;
use JSON::PP;
use POSIX qw(strftime uname floor);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);

binmode STDOUT, ':encoding(UTF-8)';
binmode STDERR, ':encoding(UTF-8)';

my %opt = (rows => '', 'all-sections' => '', postgresql => '', redis => '');
GetOptions(\%opt, 'in=s', 'out=s', 'rows=s', 'all-sections=s', 'postgresql=s', 'redis=s', 'publish=s')
    && $opt{in} && $opt{out}
    or die "usage: report.pl --in DIR --out DIR [--rows N] [--all-sections LIST] "
         . "[--postgresql V] [--redis V] [--publish DIR]\n";

my @columns = qw(section id description measured unit baseline_desc baseline ratio ratio_of target met);
my $number = qr/^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

# --- inputs -----------------------------------------------------------------------

sub read_lines {
    my ($file) = @_;
    open my $fh, '<:encoding(UTF-8)', $file or die "report: $file: $!\n";
    chomp(my @lines = <$fh>);
    return @lines;
}

sub read_tsv {
    my ($file, @want) = @_;
    my ($head, @lines) = read_lines($file);
    my @have = split /\t/, $head // '', -1;
    "@have" eq "@want" or die "report: $file: columns '@have', expected '@want'\n";
    return map {
        my @v = split /\t/, $_, -1;
        @v == @want or die "report: $file: " . scalar(@v) . " columns in: $_\n";
        my %row;
        @row{@want} = @v;
        \%row;
    } grep { length } @lines;
}

my @sections = read_tsv("$opt{in}/sections.tsv", qw(section title status seconds));
my (@figures, %problems);
for my $s (@sections) {
    my $name = $s->{section};
    $problems{$name} = "failed (exit status $s->{status})" if $s->{status} != 0;
    my $tsv = "$opt{in}/$name.tsv";
    if (-s $tsv) {
        my @rows = read_tsv($tsv, @columns);
        $s->{figures} = \@rows;
        push @figures, @rows;
    } else {
        $s->{figures} = [];
        $problems{$name} //= 'recorded no figures';
    }
    my $md = "$opt{in}/$name.md";
    $s->{markdown} = -f $md ? join("\n", read_lines($md)) : '';
}
my %ran = map { $_->{section} => 1 } @sections;
my @not_run = grep { !$ran{$_} } split ' ', $opt{'all-sections'};

my @targets = grep { $_->{target} ne '' } @figures;
my $met = grep { $_->{met} eq 'yes' } @targets;
my @failed = grep { $problems{$_->{section}} } @sections;
my $pass = $met == @targets && !@failed && @sections;

# --- the machine --------------------------------------------------------------------

sub command_output {
    my $out = qx{@_ 2>/dev/null};
    return $? == 0 && defined $out ? (chomp($out), $out)[1] : undef;
}

sub commit {
    my $head = command_output('git rev-parse --short HEAD') // return 'unknown (not a git checkout)';
    my $changes = command_output('git status --porcelain --untracked-files=no');
    return defined $changes && $changes ne '' ? "$head-dirty" : $head;
}

sub cpu_model {
    for (eval { read_lines('/proc/cpuinfo') }) {
        return $1 if /^model name\s*:\s*(.+?)\s*$/;
    }
    return 'unknown';
}

sub memory_bytes {
    for (eval { read_lines('/proc/meminfo') }) {
        return $1 * 1024 if /^MemTotal:\s*(\d+)\s*kB/;
    }
    return undef;
}

my @uname = uname();
my $memory = memory_bytes();
my %machine = (
    cpu          => cpu_model(),
    cores        => 0 + (command_output('nproc') // 0),
    memory_bytes => defined $memory ? 0 + $memory : undef,
    kernel       => "$uname[0] $uname[2]",
);
my $generated = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime);
my $commit = commit();

# --- formatting ---------------------------------------------------------------------

sub thousands {
    my ($int) = @_;
    1 while $int =~ s/^(-?\d+)(\d{3})/$1,$2/;
    return $int;
}

# A value for reading: as recorded when short, else about four significant digits,
# thousands separated.
sub fmt {
    my ($v) = @_;
    return $v if $v !~ $number || $v =~ /^-?\d{1,3}(?:\.\d{1,3})?$/;
    my $a = abs $v;
    return thousands(sprintf '%.0f', $v) if $a >= 1000;
    return sprintf '%.1f', $v if $a >= 100;
    return sprintf '%.2f', $v if $a >= 1;
    return sprintf '%.3f', $v if $a >= 0.001 || $a == 0;
    return sprintf '%.2g', $v;
}

# A ratio as the section rounded it, thousands separated.
sub fmt_ratio {
    my ($v) = @_;
    return '' if $v eq '';
    my ($int, $frac) = $v =~ /^(-?\d+)(\.\d+)?$/ or return "$v×";
    return thousands($int) . ($frac // '') . '×';
}

sub with_unit {
    my ($v, $unit) = @_;
    return '' if $v eq '';
    return $unit eq '' || $v !~ $number ? $v : fmt($v) . " $unit";
}

my %ratio_short = ('baseline/measured' => 'b/m', 'measured/baseline' => 'm/b');

sub md_cell {
    my ($text) = @_;
    $text =~ s/\|/\\|/g;
    return $text;
}

# --- charts -------------------------------------------------------------------------

my %quantity = (ms => 'time (ms), lower is better', s => 'time (s), lower is better',
                tps => 'throughput (transactions/s), higher is better',
                'req/s' => 'throughput (requests/s), higher is better');

sub gnuplot_string {
    my ($text) = @_;
    $text =~ s/(["\\])/\\$1/g;
    return qq{"$text"};
}

# Splits text into lines of at most $width characters, at spaces.
sub wrap {
    my ($text, $width) = @_;
    my @lines = ('');
    for my $word (split / /, $text) {
        if ($lines[-1] ne '' && length("$lines[-1] $word") > $width) {
            push @lines, $word;
        } else {
            $lines[-1] = $lines[-1] eq '' ? $word : "$lines[-1] $word";
        }
    }
    return @lines;
}

# One PNG for section $s: a panel of horizontal bars per unit, measured beside
# baseline for each figure with a baseline (targets repeat figures and are left out),
# each labelled with its value, the baseline's also with the ratio.
# Returns the file name, or undef with a warning when gnuplot is missing or fails.
sub chart {
    my ($s, $dir, $tmp) = @_;
    my @rows = grep {
        $_->{target} eq '' && $_->{measured} =~ $number && $_->{baseline} =~ $number
            && $_->{measured} > 0 && $_->{baseline} > 0
    } @{ $s->{figures} };
    return undef unless @rows;
    my (@units, %by_unit);
    for (@rows) {
        push @units, $_->{unit} unless $by_unit{ $_->{unit} };
        push @{ $by_unit{ $_->{unit} } }, $_;
    }
    # sizes in pixels; text about 7.7 px a character (DejaVu Sans 11)
    my ($width, $char, $head, $per_panel, $per_key) = (1500, 7.7, 60, 110, 40);
    my ($label_chars, $max_lines) = (20, 2);
    for my $r (@rows) {
        $r->{tic_lines} = [ wrap($r->{description}, 62), wrap("vs $r->{baseline_desc}", 62) ];
        $max_lines = @{ $r->{tic_lines} } if @{ $r->{tic_lines} } > $max_lines;
        for (@{ $r->{tic_lines} }) { $label_chars = length if length > $label_chars }
    }
    my $per_row = 26 + 16 * $max_lines;
    my $height = $head + @units * $per_panel + $per_key + @rows * $per_row;
    my $plot_px = $width - ($label_chars + 3 + 3) * $char;
    my $file = "$s->{section}.png";
    my @g = (
        "set terminal pngcairo size $width,$height font 'DejaVu Sans,11' noenhanced",
        'set output ' . gnuplot_string("$dir/$file"),
        'set multiplot title ' . gnuplot_string("$s->{section}: $s->{title}") . " font ',14'",
        'set style fill solid 0.9 noborder',
        'set grid xtics lc rgb "#dddddd"',
        'set ytics nomirror scale 0', 'set xtics nomirror', 'set border 3',
        sprintf('set lmargin %d', $label_chars + 3), 'set rmargin 3', 'set tmargin 2.5', 'set bmargin 3.5',
    );
    my $top = 1 - $head / $height;
    for my $k (0 .. $#units) {
        my $unit = $units[$k];
        my $last = $k == $#units;
        my @p = @{ $by_unit{$unit} };
        my $n = @p;
        my $h = ($per_panel + ($last ? $per_key : 0) + $n * $per_row) / $height;
        my $data = "$tmp/$s->{section}-$k.dat";
        open my $fh, '>:encoding(UTF-8)', $data or die "report: $data: $!\n";
        my (@tics, @bars, $min, $max);
        for my $i (0 .. $#p) {
            my $r = $p[$i];
            my $y = $n - $i;
            my $ratio = $r->{ratio} eq '' ? ''
                : sprintf '   (%s = %s)', $r->{ratio_of} eq 'baseline/measured' ? 'baseline ÷ measured' : 'measured ÷ baseline',
                          fmt_ratio($r->{ratio});
            my @labels = (' ' . with_unit($r->{measured}, $unit), ' ' . with_unit($r->{baseline}, $unit) . $ratio);
            print $fh join("\t", $y, $r->{measured}, $r->{baseline}, map { gnuplot_string($_) } @labels), "\n";
            push @bars, [ $r->{measured}, length($labels[0]) * $char ], [ $r->{baseline}, length($labels[1]) * $char ];
            push @tics, '"' . join('\n', map { substr(gnuplot_string($_), 1, -1) } @{ $r->{tic_lines} }) . "\" $y";
        }
        close $fh;
        for (@bars) {
            $min = $_->[0] if !defined $min || $_->[0] < $min;
            $max = $_->[0] if !defined $max || $_->[0] > $max;
        }
        # log scale when the values span more than 30×; the range ends where the
        # longest reaching label still fits
        my $log = $max / $min > 30;
        my $lo = $log ? 10**floor(log($min) / log(10)) : 0;
        my $span = $log ? log($max / $lo) * 1.05 : $max * 1.05;
        for (@bars) {
            my ($v, $px) = @$_;
            my $room = $plot_px * 0.97 - $px;
            $room = $plot_px * 0.3 if $room < $plot_px * 0.3;
            my $need = ($log ? log($v / $lo) : $v) * $plot_px / $room;
            $span = $need if $need > $span;
        }
        my $hi = $log ? $lo * exp($span) : $span;
        my $title = ($quantity{$unit} // $unit) . ($log ? '; log scale' : '');
        push @g,
            sprintf('set origin 0,%.5f', $top - $h), sprintf('set size 1,%.5f', $h),
            'set title ' . gnuplot_string($title),
            $last ? 'set key below horizontal' : 'unset key',
            $log ? 'set logscale x 10' : 'unset logscale x',
            $log ? 'set format x "%g"' : 'set format x "%.0f"',
            sprintf('set xrange [%g:%g]', $lo, $hi), sprintf('set yrange [0.45:%.2f]', $n + 0.55),
            'set ytics (' . join(', ', @tics) . ')',
            'plot ' . join(', ',
                gnuplot_string($data) . " using ($lo):(\$1+0.19):($lo):2:(\$1+0.02):(\$1+0.36) with boxxyerror lc rgb '#1f77b4' title 'measured'",
                "'' using ($lo):(\$1-0.19):($lo):3:(\$1-0.36):(\$1-0.02) with boxxyerror lc rgb '#f0a030' title 'baseline (same run)'",
                "'' using 2:(\$1+0.19):4 with labels left notitle",
                "'' using 3:(\$1-0.19):5 with labels left notitle");
        $top -= $h;
    }
    push @g, 'unset multiplot';
    my $script = "$tmp/$s->{section}.gp";
    open my $gp, '>:encoding(UTF-8)', $script or die "report: $script: $!\n";
    print $gp join("\n", @g), "\n";
    close $gp;
    my $out = qx{gnuplot '$script' 2>&1};
    if ($? != 0 || !-s "$dir/$file") {
        warn "report: gnuplot failed for $s->{section}" . ($? == -1 || $? >> 8 == 127 ? ' (is gnuplot-nox installed?)' : '') . ":\n$out";
        unlink "$dir/$file";
        return undef;
    }
    return $file;
}

# --- writing ------------------------------------------------------------------------

make_path($opt{out});
unlink glob("$opt{out}/*.png"), "$opt{out}/report.md", "$opt{out}/report.json";
my $tmp = tempdir('qr_bench_report.XXXXXX', TMPDIR => 1, CLEANUP => 1);
$_->{chart} = chart($_, $opt{out}, $tmp) for @sections;

my $summary = sprintf '%d targets, %d met', scalar @targets, $met;
$summary .= '; ' . join(', ', map { "$_->{section} $problems{$_->{section}}" } @failed) if @failed;
$summary .= $pass ? ': pass' : ': FAIL';
my $ran_text = join(', ', map { $_->{section} } @sections)
    . (@not_run ? ' (only these ran; not run: ' . join(', ', @not_run) . ')' : ' (all)');
my $memory_text = defined $memory ? sprintf('%.1f GiB', $memory / 2**30) : 'unknown';

my @md = (
    '# make bench report', '',
    'Every figure is measured beside its baseline in the same run on the same machine; '
        . 'compare ratios across runs, not absolute values.', '',
    '| | |', '| --- | --- |',
    "| date (UTC) | $generated |",
    "| commit | $commit |",
    "| CPU | " . md_cell($machine{cpu}) . " |",
    "| cores (nproc) | $machine{cores} |",
    "| memory | $memory_text |",
    "| kernel | $machine{kernel} |",
    '| PostgreSQL | ' . md_cell($opt{postgresql} || 'unknown') . ' |',
    '| Redis | ' . md_cell($opt{redis} || 'unknown') . ' |',
    '| participations loaded | ' . ($opt{rows} ne '' ? thousands($opt{rows}) : 'none (no section ran that uses them)') . ' |',
    "| sections | $ran_text |",
    "| result | $summary |",
    '', '## Figures', '',
    'Ratio: b/m is baseline ÷ measured (how many times faster than the baseline), '
        . 'm/b is measured ÷ baseline (the share or multiple of the baseline).', '',
    '| section | figure | measured | baseline | ratio | target | met |',
    '| --- | --- | ---: | --- | ---: | --- | --- |',
);
for my $f (@figures) {
    my $baseline = $f->{baseline_desc} eq '' ? '—'
        : $f->{baseline_desc} . ($f->{baseline} eq '' ? '' : ': ' . with_unit($f->{baseline}, $f->{unit}));
    my $ratio = $f->{ratio} eq '' ? '—' : fmt_ratio($f->{ratio}) . " ($ratio_short{ $f->{ratio_of} })";
    my $met_text = $f->{met} eq 'no' ? '**NO**' : $f->{met};
    push @md, '| ' . join(' | ', map { md_cell($_) } $f->{section}, $f->{description},
        with_unit($f->{measured}, $f->{unit}), $baseline, $ratio, $f->{target} eq '' ? '—' : $f->{target}, $met_text) . ' |';
}
push @md, '', '## Charts', '';
for my $s (@sections) {
    push @md, $s->{chart} ? ("![$s->{section}: measured beside baseline]($s->{chart})", '')
                          : ("$s->{section}: no chart (no figure with a baseline, or gnuplot failed).", '');
}
push @md, '## Sections';
for my $s (@sections) {
    push @md, '', "### $s->{section}: $s->{title}" . ($problems{ $s->{section} } ? " — $problems{ $s->{section} }" : ''), '';
    # the section's own headings one level down
    push @md, map { s/^(#+) /$1# /r } split /\n/, $s->{markdown};
}

open my $md, '>:encoding(UTF-8)', "$opt{out}/report.md" or die "report: $opt{out}/report.md: $!\n";
print $md join("\n", @md), "\n";
close $md;

sub json_value {
    my ($v) = @_;
    return undef if !defined $v || $v eq '';
    return $v =~ $number ? 0 + $v : $v;
}

my %json = (
    generated_at     => $generated,
    commit           => $commit,
    machine          => \%machine,
    postgresql       => $opt{postgresql} || undef,
    redis            => $opt{redis} || undef,
    rows             => json_value($opt{rows}),
    sections         => [ map { {
        name => $_->{section}, title => $_->{title}, exit_status => 0 + $_->{status},
        seconds => 0 + $_->{seconds}, chart => $_->{chart},
        problem => $problems{ $_->{section} },
    } } @sections ],
    sections_not_run => \@not_run,
    figures          => [ map { my $f = $_; {
        section => $f->{section}, id => $f->{id}, description => $f->{description},
        measured => json_value($f->{measured}), unit => $f->{unit} eq '' ? undef : $f->{unit},
        baseline_description => $f->{baseline_desc} eq '' ? undef : $f->{baseline_desc},
        baseline => json_value($f->{baseline}), ratio => json_value($f->{ratio}),
        ratio_of => $f->{ratio_of} eq '' ? undef : $f->{ratio_of},
        target => $f->{target} eq '' ? undef : $f->{target},
        met => $f->{met} eq 'yes' ? JSON::PP::true : $f->{met} eq 'no' ? JSON::PP::false : undef,
    } } @figures ],
    summary          => { targets => scalar @targets, met => $met,
                          failed_sections => [ map { $_->{section} } @failed ],
                          result => $pass ? 'pass' : 'FAIL' },
);
open my $js, '>', "$opt{out}/report.json" or die "report: $opt{out}/report.json: $!\n";
print $js JSON::PP->new->utf8->canonical->pretty->encode(\%json);
close $js;

if ($opt{publish} && @failed) {
    print "bench: not published to $opt{publish}/: a section failed\n";
} elsif ($opt{publish}) {
    make_path($opt{publish});
    unlink glob("$opt{publish}/*.png"), "$opt{publish}/report.md", "$opt{publish}/report.json";
    for my $file ('report.md', 'report.json', map { $_->{chart} // () } @sections) {
        copy("$opt{out}/$file", "$opt{publish}/$file") or die "report: copying $file to $opt{publish}: $!\n";
    }
    print "bench: report published to $opt{publish}/\n";
}
print "bench: report in $opt{out}/report.md\n";
print "bench: $summary\n";
exit($pass ? 0 : 1);
