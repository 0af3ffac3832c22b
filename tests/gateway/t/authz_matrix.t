# The authorisation matrix through HTTP, against the real gateway, Postgres and Redis:
# every route of gateway/router.c but /healthz, /readyz, /metrics, /api/openapi.json and
# the public live stream and page (tests/gateway/t/edge.t, live_page.t), called
# by seven callers {anonymous, guest A and guest B of event 1, staff of event 1, staff
# of event 2, the organiser of event 1, the organiser of event 2} on three targets
# {own: a row of event 1 (or the caller's), other: a row of event 2 (or another
# guest's), missing: an id or token that does not exist}.
#
# The fixtures, the routes and the expected status of every cell live in
# tests/lib/QRAuthz.pm (tests/security/authz_load.t runs the same cells under load),
# derived from DESIGN §5's "who" column, README "Requests and answers" (a route for
# accounts: 401 without a token, 403 with a guest's; the reverse for play) and the rule
# "a row the caller may not see answers exactly like a missing one". Every 404 of a row
# the caller may not see is also compared with the 404 of the missing target on the same
# route (code, message, details, hint: the no-leak rule). A compact table of the matrix
# is printed at the end (diag).
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
use QRAuthz;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

my $db = 'qr_test';
my $m = QRAuthz->new(db => $db, tag => "authz$$");
my @CALLERS = @QRAuthz::CALLERS;
my @TARGETS = @QRAuthz::TARGETS;
my %f = %{ $m->f };    # the fixture ids and tokens

my $gw = start_gateway();
sub call { return $gw->call(@_) }

# Runs the assertions a route's check returns ({ got, want, name }, want a string or a qr//).
sub assert {
    for my $as (@_) {
        ref $as->{want} eq 'Regexp' ? like($as->{got}, $as->{want}, $as->{name})
                                    : is($as->{got}, $as->{want}, $as->{name});
    }
}

# --- tokens: accounts log in, guests exchange their QR codes ------------------------------
my $signed = $m->sign_in($gw);
for my $who (qw(org1 org2 staff1 staff2)) {
    is $signed->{$who}{status}, 200, "$who logs in" or BAIL_OUT("$who cannot log in: $signed->{$who}{content}");
}
is call($m->login_request('org1'))->{json}{data}{role}, 'organizer', 'an owner signs in as organizer';
is call($m->login_request('staff1'))->{json}{data}{role}, 'staff', 'event staff signs in as staff';
for my $g (qw(guestA guestB)) {
    is $signed->{$g}{status}, 200, "$g exchanges the QR token" or BAIL_OUT("no guest token: $signed->{$g}{content}");
}

my @ROUTES = $m->routes;
my %EXPECT = QRAuthz::expectations();
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
            my $res = call($r->{req}->($target), token => $m->token($caller));
            $got{$route}{$caller}{$target} = $res;
            my $ok;
            TODO: {
                local $TODO = $TODO{$key};
                $ok = is $res->{status}, $want[$i], "$route as $caller on $target: $want[$i]";
                diag "  answer: $res->{content}" unless $ok || $TODO{$key};
                assert($r->{check}->($res, $caller, $target)) if $ok && $r->{check} && $res->{status} < 300;
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
    my $res = call('POST', "/api/qr/$f{revoke_qr1}/revoke", token => $m->token('org1'), body => { reason => 'again' });
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
    is psql($db, "SELECT count(*) FROM qr_event.events WHERE name = " . literal('Authz new ' . $m->tag)),
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
