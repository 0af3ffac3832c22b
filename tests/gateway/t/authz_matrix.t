# The authorisation matrix through HTTP, against the real gateway, Postgres and Redis:
# every route of gateway/router.c but /healthz, /readyz, /metrics, /api/openapi.json and
# the public live stream and page (tests/gateway/t/edge.t, live_page.t), called
# by seven callers {anonymous, guest A and guest B of event 1, staff of event 1, staff
# of event 2, the organiser of event 1, the organiser of event 2} on three targets
# {own: a row of event 1 (or the caller's), other: a row of event 2 (or another
# guest's), missing: an id or token that does not exist}.
#
# The expected status of every cell is written out in %EXPECT below, derived from
# DESIGN §5's "who" column, README "Requests and answers" (a route for accounts: 401
# without a token, 403 with a guest's; the reverse for play) and the rule "a row the
# caller may not see answers exactly like a missing one". Every 404 of a row the caller
# may not see is also compared with the 404 of the missing target on the same route
# (code, message, details, hint: the no-leak rule). A compact table of the matrix is
# printed at the end (diag).
#
# Writes change state, so every write cell has a target that only it may change: the
# QR code an organiser revokes is revoked by nobody else (a second revoke is 409), the
# codes scanned are used by nothing else, the guest whose code is (re)issued is used
# by nothing else, and POST /api/events runs last.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use JSON::PP ();
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $db = 'qr_test';
my $tag = "authz$$";
my $password = 'correct horse battery';

my @CALLERS = qw(anon guestA guestB staff1 staff2 org1 org2);
my @TARGETS = qw(own other missing);
my $MISSING_ID = '999999999999';
my $MISSING_TOKEN = 'Mi55ing' . ('A' x 36);

# --- fixtures, through psql -------------------------------------------------------------
sub account {
    my ($name) = @_;
    return psql($db, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
        . literal("$name-$tag\@example.com") . ", " . literal($password) . ', ' . literal("$name $tag") . ')');
}
sub row { my ($sql) = @_; my $id = psql($db, $sql); die "no id from: $sql" unless $id =~ /^\d+$/; return $id; }

my %acc = map { $_ => account($_) } qw(org1 org2 staff1 staff2);
my %f;    # the fixture ids and tokens
for my $n (1, 2) {
    my $e = $f{"event$n"} = row("INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) VALUES ("
        . "$acc{\"org$n\"}, 'Authz $n $tag', 'Hall $n', now() - interval '1 hour', now() + interval '8 hours') RETURNING id");
    psql($db, "INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES ($e, $acc{\"staff$n\"}, 'staff')");
    my $fam = $f{"family$n"} = row("INSERT INTO qr_event.families (event_id, name) VALUES ($e, 'Fam $n') RETURNING id");
    my $game = $f{"game$n"} = row("INSERT INTO qr_event.games (event_id, title, score_policy) VALUES ($e, 'Game $n', 'best') RETURNING id");
    psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
    # guests: the player (A in event 1, C in event 2), B, and one per write cell's target
    for my $g (qw(player b issue scan revoke)) {
        my $family = $g eq 'player' ? $fam : 'NULL';
        $f{"${g}_guest$n"} = row("INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name) "
            . "VALUES ($e, $family, " . literal(ucfirst($g)) . ", 'Of $n') RETURNING id");
    }
    for my $g (qw(player b scan revoke)) {
        my $token = psql($db, "SELECT qr_event.issue_qr(" . $f{"${g}_guest$n"} . ", 'authz-matrix')");
        die "no QR token for $g$n" unless $token =~ /^[A-Za-z0-9_-]{22,}$/;
        $f{"${g}_qr$n"} = $token;
    }
    $f{"part$n"} = row("SELECT (qr_event.record_play($game, $f{\"player_guest$n\"}, NULL, " . (100 * $n) . ", true)).id");
}

my $gw = start_gateway();
sub call { return $gw->call(@_) }

# --- tokens: accounts log in, guests exchange their QR codes ------------------------------
my %token = (anon => undef);
for my $who (qw(org1 org2 staff1 staff2)) {
    my $res = call('POST', '/api/auth/login', body => { email => "$who-$tag\@example.com", password => $password });
    is $res->{status}, 200, "$who logs in" or BAIL_OUT("$who cannot log in: $res->{content}");
    $token{$who} = $res->{json}{data}{token};
}
is call('POST', '/api/auth/login', body => { email => "org1-$tag\@example.com", password => $password })->{json}{data}{role},
    'organizer', 'an owner signs in as organizer';
is call('POST', '/api/auth/login', body => { email => "staff1-$tag\@example.com", password => $password })->{json}{data}{role},
    'staff', 'event staff signs in as staff';
for my $g (['guestA', 'player_qr1'], ['guestB', 'b_qr1']) {
    my $res = call('POST', '/api/auth/guest', body => { qr_token => $f{ $g->[1] } });
    is $res->{status}, 200, "$g->[0] exchanges the QR token" or BAIL_OUT("no guest token: $res->{content}");
    $token{ $g->[0] } = $res->{json}{data}{token};
}

# Where each account works: staff1 and org1 at event 1, staff2 and org2 at event 2.
my %works = (staff1 => 1, org1 => 1, staff2 => 2, org2 => 2);

# --- the routes: how each target becomes a request ------------------------------------------
# ev: the event of a target; own = event 1, other = event 2, missing = an id no event has.
sub ev { my ($t) = @_; return $t eq 'own' ? $f{event1} : $t eq 'other' ? $f{event2} : $MISSING_ID; }
sub n_of { my ($t) = @_; return $t eq 'own' ? 1 : 2; }
sub pick { my ($t, $key) = @_; return $t eq 'missing' ? undef : $f{ $key . n_of($t) }; }
sub qr_of { my ($t, $key) = @_; return pick($t, $key) // $MISSING_TOKEN; }
sub id_of { my ($t, $key) = @_; return pick($t, $key) // $MISSING_ID; }

my $starts = psql($db, q{SELECT to_char(now() - interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SSOF')});
my $ends = psql($db, q{SELECT to_char(now() + interval '8 hours', 'YYYY-MM-DD"T"HH24:MI:SSOF')});

my @ROUTES = (
    { route => 'POST /api/auth/login',
      # own: the organiser of event 1's credentials, other: event 2's, missing: an unknown email
      req => sub { my $who = $_[0] eq 'own' ? 'org1' : $_[0] eq 'other' ? 'org2' : 'nobody';
                   ('POST', '/api/auth/login', body => { email => "$who-$tag\@example.com", password => $password }) } },
    { route => 'POST /api/auth/guest',
      # own: guest A's QR token (event 1), other: guest C's (event 2), missing: an unknown token
      req => sub { ('POST', '/api/auth/guest', body => { qr_token => qr_of($_[0], 'player_qr') }) } },
    { route => 'GET /api/events',
      # one list; own: event 1 is in it, other: event 2 is in it (checked), missing: no such target
      req => sub { ('GET', '/api/events?limit=100') },
      check => sub {
          my ($res, $caller, $target) = @_;
          my %ids = map { ($_->{id} => 1) } @{ $res->{json}{data} // [] };
          my $n = n_of($target);
          my $listed = $ids{ $f{"event$n"} } ? 1 : 0;
          my $should = ($works{$caller} // 0) == $n ? 1 : 0;
          is $listed, $should, "GET /api/events by $caller " . ($should ? 'lists' : 'does not list') . " event $n";
      } },
    { route => 'GET /api/events/{id}',
      req => sub { ('GET', '/api/events/' . ev($_[0])) } },
    { route => 'GET /api/events/{id}/guests',
      req => sub { ('GET', '/api/events/' . ev($_[0]) . '/guests') } },
    { route => 'POST /api/events/{id}/guests',
      req => sub { ('POST', '/api/events/' . ev($_[0]) . '/guests', body => { first_name => 'Nina', last_name => 'New' }) } },
    { route => 'GET /api/events/{id}/families',
      req => sub { ('GET', '/api/events/' . ev($_[0]) . '/families') } },
    { route => 'POST /api/events/{id}/families',
      req => sub { ('POST', '/api/events/' . ev($_[0]) . '/families', body => { name => 'Newfam' }) } },
    { route => 'GET /api/events/{id}/games',
      req => sub { ('GET', '/api/events/' . ev($_[0]) . '/games') } },
    { route => 'POST /api/events/{id}/games',
      req => sub { ('POST', '/api/events/' . ev($_[0]) . '/games', body => { title => 'Quiz', score_policy => 'best' }) } },
    { route => 'GET /api/events/{id}/stats',
      req => sub { ('GET', '/api/events/' . ev($_[0]) . '/stats') } },
    { route => 'POST /api/events/{id}/guests/{guest_id}/qr',
      # a guest of the event used by nothing else (each allowed call re-issues its code)
      req => sub { ('POST', '/api/events/' . ev($_[0]) . '/guests/' . id_of($_[0], 'issue_guest') . '/qr') } },
    { route => 'POST /api/qr/{token}/scan',
      # codes only these cells scan; a refused scan is a 200 answer with its reason
      req => sub { ('POST', '/api/qr/' . qr_of($_[0], 'scan_qr') . '/scan', body => { gate => 'North', device => 'authz' }) },
      check => sub {
          my ($res, $caller, $target) = @_;
          my $want = $target eq 'missing' ? qr/^unknown$/
                   : $works{$caller} == n_of($target) ? qr/^(?:accepted|already_used)$/ : qr/^wrong_event$/;
          like $res->{json}{data}{reason} // '', $want, "scan by $caller of the $target code: reason";
      } },
    { route => 'POST /api/qr/{token}/revoke',
      # codes only these cells revoke: only one cell of each may succeed
      req => sub { ('POST', '/api/qr/' . qr_of($_[0], 'revoke_qr') . '/revoke', body => { reason => 'authz matrix' }) } },
    { route => 'GET /api/qr/{token}/history',
      req => sub { ('GET', '/api/qr/' . qr_of($_[0], 'scan_qr') . '/history') } },
    { route => 'GET /api/games/{id}/leaderboard',
      req => sub { ('GET', '/api/games/' . id_of($_[0], 'game') . '/leaderboard') } },
    { route => 'GET /api/games/{id}/leaderboard/{participation_id}',
      req => sub { ('GET', '/api/games/' . id_of($_[0], 'game') . '/leaderboard/' . id_of($_[0], 'part')) } },
    { route => 'POST /api/games/{id}/play',
      # own: a game of the guest's event, other: a game of event 2
      req => sub { ('POST', '/api/games/' . id_of($_[0], 'game') . '/play', body => { score => 7, completed => JSON::PP::true }) },
      check => sub {
          my ($res, $caller, $target) = @_;
          my $guest = $caller eq 'guestA' ? $f{player_guest1} : $f{b_guest1};
          is $res->{json}{data}{guest_id}, $guest, "play by $caller records the caller's own participation";
      } },
    { route => 'POST /api/events',
      # last: it makes each account the owner of one more event; no target
      req => sub { ('POST', '/api/events', body => { name => "Authz new $tag", venue => 'Annex',
                                                     starts_at => $starts, ends_at => $ends }) } },
);

# --- the expected matrix: "own other missing" per caller ('-': no such target) -------------------
# public: anyone; account routes: 401 anonymous, 403 guests (gateway, before the database);
# staff of the event: its staff and organisers; organiser: the owner (or an event_staff
# organizer); a row the caller may not see: 404, as for a missing one.
my %EXPECT;
{
    my $public  = { map { ($_ => '200 200 404') } @CALLERS };
    my $anyone  = { map { ($_ => '200 200 401') } @CALLERS };    # credentials: unknown ones 401
    my $acct    = sub { my (%r) = @_; return { anon => '401 401 401', guestA => '403 403 403', guestB => '403 403 403', %r } };
    my $staff   = $acct->(staff1 => '200 404 404', staff2 => '404 200 404', org1 => '200 404 404', org2 => '404 200 404');
    my $org     = sub { my ($ok) = @_;
                        $acct->(staff1 => '404 404 404', staff2 => '404 404 404',
                                org1 => "$ok 404 404", org2 => "404 $ok 404") };
    %EXPECT = (
        'POST /api/auth/login'                             => $anyone,
        'POST /api/auth/guest'                             => $anyone,
        'GET /api/events'                                  => { anon => '401 401 -', guestA => '403 403 -', guestB => '403 403 -',
                                                                map { ($_ => '200 200 -') } qw(staff1 staff2 org1 org2) },
        'POST /api/events'                                 => { anon => '401 - -', guestA => '403 - -', guestB => '403 - -',
                                                                map { ($_ => '201 - -') } qw(staff1 staff2 org1 org2) },
        'GET /api/events/{id}'                             => $staff,
        'GET /api/events/{id}/guests'                      => $org->(200),
        'POST /api/events/{id}/guests'                     => $org->(201),
        'GET /api/events/{id}/families'                    => $org->(200),
        'POST /api/events/{id}/families'                   => $org->(201),
        'GET /api/events/{id}/games'                       => $public,
        'POST /api/events/{id}/games'                      => $org->(201),
        'GET /api/events/{id}/stats'                       => $org->(200),
        'POST /api/events/{id}/guests/{guest_id}/qr'       => $org->(201),
        # staff scan any code: another event's code is a 200 wrong_event, an unknown one 200 unknown
        'POST /api/qr/{token}/scan'                        => $acct->(map { ($_ => '200 200 200') } qw(staff1 staff2 org1 org2)),
        'POST /api/qr/{token}/revoke'                      => $org->(200),
        'GET /api/qr/{token}/history'                      => $staff,
        'GET /api/games/{id}/leaderboard'                  => $public,
        'GET /api/games/{id}/leaderboard/{participation_id}' => $public,
        'POST /api/games/{id}/play'                        => { anon => '401 401 401', guestA => '200 404 404',
                                                                guestB => '200 404 404',
                                                                map { ($_ => '403 403 403') } qw(staff1 staff2 org1 org2) },
    );
}
is_deeply [sort keys %EXPECT], [sort map { $_->{route} } @ROUTES], 'every route has a row of expectations';

# Cells that reveal a real authorisation bug: "route|caller|target" => the bug. They keep
# their correct expectation and run as TODO.
my %TODO = ();

# --- run the matrix ----------------------------------------------------------------------------
my %got;      # route => caller => target => response
my %mark;     # route => caller => target => '' | '!' (wrong) | '?' (TODO)
for my $r (@ROUTES) {
    my $route = $r->{route};
    for my $caller (@CALLERS) {
        my @want = split ' ', $EXPECT{$route}{$caller};
        for my $i (0 .. $#TARGETS) {
            my $target = $TARGETS[$i];
            next if $want[$i] eq '-';
            my $key = "$route|$caller|$target";
            my $res = call($r->{req}->($target), token => $token{$caller});
            $got{$route}{$caller}{$target} = $res;
            my $ok;
            TODO: {
                local $TODO = $TODO{$key};
                $ok = is $res->{status}, $want[$i], "$route as $caller on $target: $want[$i]";
                diag "  answer: $res->{content}" unless $ok || $TODO{$key};
                $r->{check}->($res, $caller, $target) if $ok && $r->{check} && $res->{status} < 300;
            }
            $mark{$route}{$caller}{$target} = $TODO{$key} ? '?' : $ok ? '' : '!';
        }
    }
}

# --- the no-leak rule: a 404 for a row the caller may not see is the 404 of a missing one --------
my $leak_checks = 0;
for my $r (@ROUTES) {
    my $route = $r->{route};
    for my $caller (@CALLERS) {
        my $missing = $got{$route}{$caller}{missing} or next;
        next unless $missing->{status} == 404;
        my $ref = $missing->{json}{error};
        for my $target (qw(own other)) {
            my $res = $got{$route}{$caller}{$target} or next;
            next unless $res->{status} == 404;
            my $err = $res->{json}{error};
            local $TODO = $TODO{"$route|$caller|$target"};
            is_deeply { map { ($_ => $err->{$_}) } qw(code message details hint) },
                      { map { ($_ => $ref->{$_}) } qw(code message details hint) },
                "$route as $caller: the 404 on $target is the 404 on missing ($ref->{code}: $ref->{message})";
            $leak_checks++;
        }
    }
    # and the missing 404 is one answer for every caller
    my @missing = grep { $_ && $_->{status} == 404 } map { $got{$route}{$_}{missing} } @CALLERS;
    if (@missing > 1) {
        my %seen = map { ("$_->{json}{error}{code}: $_->{json}{error}{message}" => 1) } @missing;
        is scalar(keys %seen), 1, "$route: one 404 for a missing target, whoever asks (" . join('; ', sort keys %seen) . ')';
    }
}
ok $leak_checks > 50, "no-leak comparisons made: $leak_checks";

# --- state the write cells left: exactly the allowed ones wrote --------------------------------------
{
    my $res = call('POST', "/api/qr/$f{revoke_qr1}/revoke", token => $token{org1}, body => { reason => 'again' });
    is $res->{status}, 409, 'a second revoke of the same code by its organiser: 409, not 404';
    is psql($db, "SELECT string_agg(status, ',' ORDER BY event_id) FROM qr_event.qr_codes WHERE token IN ("
                 . literal($f{revoke_qr1}) . ', ' . literal($f{revoke_qr2}) . ')'),
       'revoked,revoked', 'each revoke code was revoked (once, by its organiser)';
    is psql($db, "SELECT count(*) FROM qr_event.guests WHERE event_id IN ($f{event1}, $f{event2}) AND first_name = 'Nina'"),
       2, 'POST guests: one guest added per event, by its organiser only';
    is psql($db, "SELECT count(*) FROM qr_event.families WHERE event_id IN ($f{event1}, $f{event2}) AND name = 'Newfam'"),
       2, 'POST families: one family added per event, by its organiser only';
    is psql($db, "SELECT count(*) FROM qr_event.games WHERE event_id IN ($f{event1}, $f{event2}) AND title = 'Quiz'"),
       2, 'POST games: one game added per event, by its organiser only';
    is psql($db, "SELECT count(*) FROM qr_event.qr_codes WHERE guest_id IN ($f{issue_guest1}, $f{issue_guest2})"),
       2, 'issue QR: one code per guest, issued by its organiser only';
    is psql($db, "SELECT count(*) FROM qr_event.events WHERE name = " . literal("Authz new $tag")),
       4, 'POST /api/events: one new event per account';
    is psql($db, "SELECT status FROM qr_event.qr_codes WHERE token = " . literal($f{scan_qr1})),
       'used', "event 1's scan code was used by its own door";
}

# --- the matrix, compactly ----------------------------------------------------------------------------
{
    my $w = 50;
    my @lines = ('authorisation matrix: each cell is own/other/missing (- no such target; ! wrong; ? TODO)',
                 sprintf("%-${w}s %s", 'route', join(' ', map { sprintf '%-13s', $_ } @CALLERS)) . ' cells');
    my $total = 0;
    for my $r (@ROUTES) {
        my $route = $r->{route};
        my $cells = 0;
        my @cols;
        for my $caller (@CALLERS) {
            my @c;
            for my $target (@TARGETS) {
                my $res = $got{$route}{$caller}{$target};
                if ($res) { push @c, $res->{status} . $mark{$route}{$caller}{$target}; $cells++; }
                else { push @c, '-'; }
            }
            push @cols, sprintf '%-13s', join('/', @c);
        }
        $total += $cells;
        push @lines, sprintf("%-${w}s %s %d", $route, join(' ', @cols), $cells);
    }
    push @lines, sprintf('%d routes, %d cells, %d no-leak comparisons', scalar @ROUTES, $total, $leak_checks);
    diag $_ for @lines;
}

done_testing;
