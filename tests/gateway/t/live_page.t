# The live leaderboard page (gateway/live_page.html, served by GET /live/games/{id})
# in Debian's headless Chromium, against the real gateway, Postgres and Redis: the page
# shows a game's leaderboard from GET /api/games/{id}/leaderboard/stream, follows a
# score raised through SQL within 10 s, shows a hostile guest name as text, and shows
# an error status for a path that is not a game. Its headers (CSP, nosniff, caching)
# and HEAD are checked over plain HTTP. The screenshot is kept as
# tests/artifacts/live_page.png.
#
# Needs /usr/bin/chromium and node (tests/harness/deps.sh installs both) and the npm
# package playwright-core in tests/browser/node_modules: this test runs `npm ci` there
# itself when it is missing, so it also works when the harness is run without make deps.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp ();
use POSIX ();
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $CHROMIUM = '/usr/bin/chromium';
my $HOSTILE = '<img src=x onerror=alert(1)>';

my $root = $ENV{QR_TEST_ROOT} // "$FindBin::Bin/../../..";
my $browser_dir = "$root/tests/browser";
my ($node) = grep { -x } map { "$_/node" } split /:/, $ENV{PATH} // '';
plan skip_all => "$CHROMIUM is missing (the Debian package chromium; tests/harness/deps.sh installs it)"
    unless -x $CHROMIUM;
plan skip_all => 'node is missing (tests/harness/deps.sh installs it)' unless $node;

# The npm packages of tests/browser (playwright-core only; it never downloads a browser).
unless (-e "$browser_dir/node_modules/playwright-core/package.json") {
    local $ENV{PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD} = 1;
    my $how = -e "$browser_dir/package-lock.json" ? 'ci' : 'install';
    system('npm', $how, '--prefix', $browser_dir, '--no-audit', '--no-fund', '--loglevel=error') == 0
        or BAIL_OUT("npm $how in tests/browser failed");
}

# --- fixtures, through psql --------------------------------------------------------------
my $db = 'qr_test';
my $tag = "live$$";

# Runs SQL that returns one id.
sub row {
    my ($sql) = @_;
    my $id = psql($db, $sql);
    die "no id from: $sql" unless $id =~ /^\d+$/;
    return $id;
}

my $owner = row("SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
    . literal("owner-$tag\@example.com") . ", 'correct horse battery', " . literal("Owner $tag") . ')');
my $event = row("INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) VALUES ($owner, "
    . literal("Live $tag") . ", 'Hall', now() - interval '1 hour', now() + interval '8 hours') RETURNING id");
my $game = row("INSERT INTO qr_event.games (event_id, title, score_policy) VALUES ($event, 'Relay', 'best') RETURNING id");
psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
my $ann = row("INSERT INTO qr_event.guests (event_id, first_name, last_name) VALUES ($event, 'Ann', 'Archer') RETURNING id");
my $evil = row("INSERT INTO qr_event.guests (event_id, first_name) VALUES ($event, " . literal($HOSTILE) . ') RETURNING id');

# Records a completed play and returns the participation's id.
sub play {
    my ($guest, $score) = @_;
    return row("SELECT (qr_event.record_play($game, $guest, NULL, $score, true)).id");
}

my $part_ann = play($ann, 120);
my $part_evil = play($evil, 80);

my $gw = start_gateway();

# --- the page over plain HTTP ------------------------------------------------------------
my $page = $gw->get("/live/games/$game");
is $page->{status}, 200, 'GET /live/games/{id} answers 200';
my $h = $page->{headers};
is $h->{'content-type'}, 'text/html; charset=utf-8', 'the page is HTML in UTF-8';
is $h->{'x-content-type-options'}, 'nosniff', 'with X-Content-Type-Options: nosniff';
is $h->{'cache-control'}, 'public, max-age=60', 'cacheable for a minute';
my $csp = $h->{'content-security-policy'} // '';
like $csp, qr/(?:^|;\s*)default-src 'none'(?:;|$)/, "the CSP denies everything by default: $csp";
like $csp, qr/(?:^|;\s*)connect-src 'self'(?:;|$)/, 'the CSP lets the page connect to its own origin only';
like $csp, qr/(?:^|;\s*)script-src(?: '(?:sha256-[A-Za-z0-9+\/]+=*|unsafe-inline)')+(?:;|$)/,
    'the CSP allows inline scripts only';
like $csp, qr/(?:^|;\s*)style-src(?: '(?:sha256-[A-Za-z0-9+\/]+=*|unsafe-inline)')+(?:;|$)/,
    'the CSP allows inline styles only';
unlike $csp, qr{https?:|\*|data:|'unsafe-eval'}, 'the CSP names no other origin, scheme or eval';
like $page->{content}, qr{<title>Live leaderboard</title>}, 'the page has its title';
unlike $page->{content}, qr{\b(?:src|href)\s*=|\burl\(|\@import|https?://}i,
    'the page loads no external resource';
is length($page->{content}), $h->{'content-length'}, 'Content-Length is the length of the page';

my $other = $gw->get('/live/games/999999999');
is $other->{status}, 200, 'the page of another game id answers 200 too';
is $other->{content}, $page->{content}, 'the HTML is the same for every game (the script reads the path)';

my $head = $gw->request('HEAD', "/live/games/$game");
is $head->{status}, 200, 'HEAD /live/games/{id} answers 200';
is $head->{content} // '', '', 'HEAD sends no body';
is $head->{headers}{'content-length'}, $h->{'content-length'}, 'HEAD announces the length of the page';
is $head->{headers}{'content-security-policy'}, $h->{'content-security-policy'}, 'HEAD sends the same CSP';
is $head->{headers}{'x-content-type-options'}, 'nosniff', 'HEAD sends nosniff';

is $gw->get('/live/games/not-a-number')->{status}, 404,
    'a path whose id is not a positive integer is not found (the router admits only ids)';

# --- the page in Chromium ----------------------------------------------------------------
my $tmp = File::Temp::tempdir('live_page.XXXXXX', DIR => $ENV{QR_TEST_TMP} // '/tmp', CLEANUP => 1);
my $shot = "$tmp/live_page.png";
my $stderr = "$tmp/browser.stderr";
# The gateway answers 404 for a non-numeric id, so live_page.mjs serves the page's own
# bytes and headers at --bad-url by request interception to check the script's own
# rejection of such a path.
my @browser = ($node, "$browser_dir/live_page.mjs",
    '--url', $gw->url("/live/games/$game"),
    '--user-data-dir', "$tmp/chromium-profile",
    '--expect', "$part_ann,$part_evil",
    '--expect', "$part_evil,$part_ann",
    '--screenshot', $shot,
    '--bad-url', $gw->url('/live/games/not-a-number'),
    '--timeout-ms', 10000);

my %step;
my $raised;
my $pid = open(my $from_browser, '-|') // die "fork: $!";
if ($pid == 0) {
    open STDERR, '>', $stderr or POSIX::_exit(126);
    exec(@browser) or POSIX::_exit(127);
}
{
    # live_page.mjs bounds every wait itself; this only stops a browser that hangs.
    local $SIG{ALRM} = sub { kill 'TERM', $pid; die "live_page.mjs did not finish in 120 s\n" };
    alarm 120;
    eval {
        while (my $line = <$from_browser>) {
            my $r = QRTest::json($line);
            unless (ref $r eq 'HASH' && defined $r->{step}) {
                diag "live_page.mjs: $line";
                next;
            }
            my $key = $r->{step} eq 'expect' ? "expect$r->{index}" : $r->{step};
            $step{$key} = $r;
            diag "live_page.mjs: $r->{step}: $r->{error}" if $r->{error};
            # The page shows the first leaderboard: raise the hostile guest above Ann.
            if ($key eq 'expect1' && $r->{ok} && !$raised) {
                play($evil, 150);
                $raised = 1;
            }
        }
        1;
    } or diag "$@";
    alarm 0;
}
close $from_browser;
my $exit = $? >> 8;
is $exit, 0, 'live_page.mjs passed every step' or diag(slurp($stderr));

ok $step{open} && $step{open}{ok}, 'Chromium opened the page';
is $step{open}{headers}{'content-security-policy'}, $csp, 'Chromium got the same CSP' if $step{open};

my $first = $step{expect1} // {};
ok $first->{ok}, 'the page renders the initial leaderboard';
is_deeply rows($first), [ [1, $part_ann, 'Ann Archer', 120], [2, $part_evil, $HOSTILE, 80] ],
    'ranks, participations, names and scores as the leaderboard has them';
is $first->{images}, 0, 'the hostile name is text: no img element';
is $first->{status}{state}, 'live', 'the status line says live';

my $second = $step{expect2} // {};
ok $raised, 'the score was raised while the page was open';
ok $second->{ok}, 'the page shows the new order after the score was raised';
cmp_ok $second->{ms} // 1e9, '<=', 10000, 'within 10 seconds (' . ($second->{ms} // '?') . ' ms)';
is_deeply rows($second), [ [1, $part_evil, $HOSTILE, 150], [2, $part_ann, 'Ann Archer', 120] ],
    'the raised score on top';
is $second->{images}, 0, 'still no img element';

ok $step{screenshot} && $step{screenshot}{ok} && -s $shot, 'a screenshot was taken';
if (-s $shot) {
    make_path("$root/tests/artifacts");
    copy($shot, "$root/tests/artifacts/live_page.png") or diag "cannot keep the screenshot: $!";
}

my $bad = $step{'bad-url'} // {};
ok $bad->{ok}, 'a path that is not a game id: the page rejects it';
is $bad->{status}{state}, 'error', 'and shows an error status: ' . ($bad->{status}{text} // '?');
is $bad->{api_requests}, 0, 'without calling the API';

my $done = $step{done} // {};
is $done->{dialogs}, 0, 'no script dialog opened (nothing of the hostile name ran)';
is_deeply $done->{page_errors}, [], 'no script error on the page';
my @csp_errors = grep { /Content Security Policy|Refused to/i } @{ $done->{console_errors} // [] };
is_deeply \@csp_errors, [], 'no CSP violation';

done_testing();

# The table rows of a step as [rank, participation id, name, score].
sub rows {
    my ($r) = @_;
    return [ map { [ $_->{rank}, $_->{participation_id}, $_->{name}, $_->{score} ] } @{ $r->{rows} // [] } ];
}

# The contents of a file, or '' when it cannot be read.
sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh> // '';
}
