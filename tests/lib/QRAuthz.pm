# The authorisation matrix of the REST API, shared by tests/gateway/t/authz_matrix.t
# (every cell once, with the no-leak rule) and tests/security/authz_load.t (the same
# cells, shuffled, by concurrent clients with caching and rate limits on).
#
# Seven callers {anonymous, guest A and guest B of event 1, staff of event 1, staff of
# event 2, the organiser of event 1, the organiser of event 2} call every route of
# gateway/router.c but /healthz, /readyz, /metrics, /api/openapi.json and the public
# live stream and page, on three targets {own: a row of event 1 (or the caller's),
# other: a row of event 2 (or another guest's), missing: an id or token that does not
# exist}.
#
# The expected status of every cell is written out in expectations() below, derived from
# DESIGN §5's "who" column, README "Requests and answers" (a route for accounts: 401
# without a token, 403 with a guest's; the reverse for play) and the rule "a row the
# caller may not see answers exactly like a missing one".
#
# Writes change state, so every write cell has a target that only it may change: the
# QR code an organiser revokes is revoked by nobody else (a second revoke is 409: the
# route's `again`, the status an allowed cell may answer when it runs again or
# concurrently), the codes scanned are used by nothing else, the guest whose code is
# (re)issued is used by nothing else, and POST /api/events comes last.
#
#     my $m = QRAuthz->new(db => 'qr_test', tag => "authz$$");   # fixtures, through psql
#     my $logins = $m->sign_in($gw);                               # tokens of every caller
#     for my $r ($m->routes) { ... $gw->call($r->{req}->($target), token => $m->token($caller)) ... }
#
# A route's check and entitled subs return assertions { got, want, name } (want a string
# or a qr//): check holds the matrix's own checks of a 2xx answer, entitled says the
# answer holds only rows the caller may see (the event, guest, game or account of the
# cell), which is what a cached answer served to the wrong caller would break.
package QRAuthz;

use strict;
use warnings;
use JSON::PP ();
use QRPg qw(psql literal);

our @CALLERS = qw(anon guestA guestB staff1 staff2 org1 org2);
our @TARGETS = qw(own other missing);
our $MISSING_ID = '999999999999';
our $MISSING_TOKEN = 'Mi55ing' . ('A' x 36);
our $PASSWORD = 'correct horse battery';

# Where each account works: staff1 and org1 at event 1, staff2 and org2 at event 2.
our %WORKS = (staff1 => 1, org1 => 1, staff2 => 2, org2 => 2);

# Creates the fixtures in database $o{db}, named after $o{tag}: four accounts, two events
# (each with its staff, a family, a live game, guests, QR codes and a completed play).
sub new {
    my ($class, %o) = @_;
    my $self = bless { db => $o{db} // 'qr_test', tag => $o{tag} // "authz$$", f => {}, acc => {},
                       token => { anon => undef } }, $class;
    my ($db, $tag, $f) = ($self->{db}, $self->{tag}, $self->{f});
    my $row = sub {
        my ($sql) = @_;
        my $id = psql($db, $sql);
        die "no id from: $sql" unless $id =~ /^\d+$/;
        return $id;
    };
    for my $name (qw(org1 org2 staff1 staff2)) {
        $self->{acc}{$name} = psql($db, "SET qr_event.password_iterations = 1000; SELECT qr_event.create_account("
            . literal($self->email($name)) . ', ' . literal($PASSWORD) . ', ' . literal("$name $tag") . ')');
    }
    my $acc = $self->{acc};
    for my $n (1, 2) {
        my $e = $f->{"event$n"} = $row->("INSERT INTO qr_event.events (owner_id, name, venue, starts_at, ends_at) VALUES ("
            . "$acc->{\"org$n\"}, 'Authz $n $tag', 'Hall $n', now() - interval '1 hour', now() + interval '8 hours') RETURNING id");
        psql($db, "INSERT INTO qr_event.event_staff (event_id, account_id, role) VALUES ($e, $acc->{\"staff$n\"}, 'staff')");
        my $fam = $f->{"family$n"} = $row->("INSERT INTO qr_event.families (event_id, name) VALUES ($e, 'Fam $n') RETURNING id");
        my $game = $f->{"game$n"} = $row->("INSERT INTO qr_event.games (event_id, title, score_policy) VALUES ($e, 'Game $n', 'best') RETURNING id");
        psql($db, "UPDATE qr_event.games SET status = 'live' WHERE id = $game");
        # guests: the player (A in event 1, C in event 2), B, and one per write cell's target
        for my $g (qw(player b issue scan revoke)) {
            my $family = $g eq 'player' ? $fam : 'NULL';
            $f->{"${g}_guest$n"} = $row->("INSERT INTO qr_event.guests (event_id, family_id, first_name, last_name) "
                . "VALUES ($e, $family, " . literal(ucfirst($g)) . ", 'Of $n') RETURNING id");
        }
        for my $g (qw(player b scan revoke)) {
            my $token = psql($db, "SELECT qr_event.issue_qr(" . $f->{"${g}_guest$n"} . ", 'authz-matrix')");
            die "no QR token for $g$n" unless $token =~ /^[A-Za-z0-9_-]{22,}$/;
            $f->{"${g}_qr$n"} = $token;
            $f->{"${g}_code$n"} = $row->('SELECT id FROM qr_event.qr_codes WHERE token = ' . literal($token));
        }
        $f->{"part$n"} = $row->("SELECT (qr_event.record_play($game, $f->{\"player_guest$n\"}, NULL, " . (100 * $n) . ", true)).id");
    }
    my $when = sub { psql($db, "SELECT to_char(now() $_[0], 'YYYY-MM-DD\"T\"HH24:MI:SSOF')") };
    $self->{starts} = $when->("- interval '1 hour'");
    $self->{ends} = $when->("+ interval '8 hours'");
    return $self;
}

sub f { return $_[0]{f} }
sub acc { return $_[0]{acc} }
sub tag { return $_[0]{tag} }
sub token { return $_[0]{token}{ $_[1] } }
sub email { my ($self, $who) = @_; return "$who-$self->{tag}\@example.com"; }

# The login request of an account (org1, ...; any other name is an unknown email).
sub login_request {
    my ($self, $who) = @_;
    return ('POST', '/api/auth/login', body => { email => $self->email($who), password => $PASSWORD });
}

# The QR code each guest signs in with.
my %GUEST_QR = (guestA => 'player_qr1', guestB => 'b_qr1');

# Signs every caller in through $gw (accounts log in, guests exchange their QR codes);
# keeps the tokens and returns { caller => the sign-in response }.
sub sign_in {
    my ($self, $gw) = @_;
    my %res;
    $res{$_} = $gw->call($self->login_request($_)) for qw(org1 org2 staff1 staff2);
    $res{$_} = $gw->call('POST', '/api/auth/guest', body => { qr_token => $self->{f}{ $GUEST_QR{$_} } })
        for sort keys %GUEST_QR;
    for my $who (keys %res) {
        $self->{token}{$who} = $res{$who}{status} == 200 ? $res{$who}{json}{data}{token} : undef;
    }
    return \%res;
}

# --- how each target becomes a request ------------------------------------------------------
# ev: the event of a target; own = event 1, other = event 2, missing = an id no event has.
sub ev { my ($self, $t) = @_; return $t eq 'own' ? $self->{f}{event1} : $t eq 'other' ? $self->{f}{event2} : $MISSING_ID; }
sub n_of { my ($t) = @_; return $t eq 'own' ? 1 : 2; }
sub pick { my ($self, $t, $key) = @_; return $t eq 'missing' ? undef : $self->{f}{ $key . n_of($t) }; }
sub qr_of { my ($self, $t, $key) = @_; return $self->pick($t, $key) // $MISSING_TOKEN; }
sub id_of { my ($self, $t, $key) = @_; return $self->pick($t, $key) // $MISSING_ID; }

# An assertion: { got, want, name }.
sub a { my ($got, $want, $name) = @_; return { got => $got, want => $want, name => $name }; }

# Whether an assertion holds (want a string or a qr//).
sub holds {
    my ($as) = @_;
    return 0 unless defined $as->{got};
    return ref $as->{want} eq 'Regexp' ? $as->{got} =~ $as->{want} : $as->{got} eq $as->{want};
}

# The data of a list answer, as an array.
sub items { my ($res) = @_; my $d = $res->{json}{data}; return ref $d eq 'ARRAY' ? @$d : (); }

# Every item of a list answer belongs to the target's event.
sub all_of_event {
    my ($self, $res, $target, $what) = @_;
    my $e = $self->ev($target);
    my @wrong = grep { ($_->{event_id} // '') ne $e } items($res);
    return a(scalar(@wrong), 0, "$what: every row is of event $e");
}

# Every leaderboard row is a player of the target's game: the guests "<Name> Of <n>" and
# the family "Fam <n>" of event n (the only ones who play it).
sub players_of_game {
    my ($self, $rows, $target) = @_;
    my $n = n_of($target);
    my @wrong = grep { ($_->{display_name} // '') !~ /(?:^\w+ Of $n|^Fam $n)\z/ } @{ ref $rows eq 'ARRAY' ? $rows : [] };
    return a(scalar(@wrong), 0, "the leaderboard of game $n shows only its players");
}

# The routes, in the order the matrix runs them.
sub routes {
    my ($self) = @_;
    my $f = $self->{f};
    my $tag = $self->{tag};
    return (
        { route => 'POST /api/auth/login',
          # own: the organiser of event 1's credentials, other: event 2's, missing: an unknown email
          req => sub { $self->login_request($_[0] eq 'own' ? 'org1' : $_[0] eq 'other' ? 'org2' : 'nobody') },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              my $who = $target eq 'own' ? 'org1' : 'org2';
              return a($res->{json}{data}{sub}, $self->{acc}{$who}, "login with $who\'s credentials signs in $who");
          } },
        { route => 'POST /api/auth/guest',
          # own: guest A's QR token (event 1), other: guest C's (event 2), missing: an unknown token
          req => sub { ('POST', '/api/auth/guest', body => { qr_token => $self->qr_of($_[0], 'player_qr') }) },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              return a($res->{json}{data}{sub}, $self->pick($target, 'player_guest'),
                       "the $target QR token signs in its own guest");
          } },
        { route => 'GET /api/events',
          # one list; own: event 1 is in it, other: event 2 is in it (checked), missing: no such target
          req => sub { ('GET', '/api/events?limit=100') },
          check => sub {
              my ($res, $caller, $target) = @_;
              my %ids = map { ($_->{id} => 1) } items($res);
              my $n = n_of($target);
              my $listed = $ids{ $f->{"event$n"} } ? 1 : 0;
              my $should = ($WORKS{$caller} // 0) == $n ? 1 : 0;
              return a($listed, $should, "GET /api/events by $caller " . ($should ? 'lists' : 'does not list') . " event $n");
          },
          # the caller's own events (POST /api/events adds some) and the one it works at
          entitled => sub {
              my ($res, $caller, $target) = @_;
              my $works = $f->{ 'event' . ($WORKS{$caller} // 0) } // -1;
              my @wrong = grep { ($_->{owner_id} // '') ne $self->{acc}{$caller} && $_->{id} ne $works } items($res);
              return a(join(',', map { $_->{id} } @wrong), '', "GET /api/events by $caller lists only its events");
          } },
        { route => 'GET /api/events/{id}',
          req => sub { ('GET', '/api/events/' . $self->ev($_[0])) },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              return a($res->{json}{data}{id}, $self->ev($target), "GET /api/events/{id} answers the $target event");
          } },
        { route => 'GET /api/events/{id}/guests',
          req => sub { ('GET', '/api/events/' . $self->ev($_[0]) . '/guests') },
          entitled => sub { $self->all_of_event($_[0], $_[2], 'guests') } },
        { route => 'POST /api/events/{id}/guests',
          req => sub { ('POST', '/api/events/' . $self->ev($_[0]) . '/guests', body => { first_name => 'Nina', last_name => 'New' }) },
          entitled => sub { a($_[0]{json}{data}{event_id}, $self->ev($_[2]), 'the new guest is of the event') } },
        { route => 'GET /api/events/{id}/families',
          req => sub { ('GET', '/api/events/' . $self->ev($_[0]) . '/families') },
          entitled => sub { $self->all_of_event($_[0], $_[2], 'families') } },
        { route => 'POST /api/events/{id}/families',
          req => sub { ('POST', '/api/events/' . $self->ev($_[0]) . '/families', body => { name => 'Newfam' }) },
          entitled => sub { a($_[0]{json}{data}{event_id}, $self->ev($_[2]), 'the new family is of the event') } },
        { route => 'GET /api/events/{id}/games',
          req => sub { ('GET', '/api/events/' . $self->ev($_[0]) . '/games') },
          entitled => sub { $self->all_of_event($_[0], $_[2], 'games') } },
        { route => 'POST /api/events/{id}/games',
          req => sub { ('POST', '/api/events/' . $self->ev($_[0]) . '/games', body => { title => 'Quiz', score_policy => 'best' }) },
          entitled => sub { a($_[0]{json}{data}{event_id}, $self->ev($_[2]), 'the new game is of the event') } },
        { route => 'GET /api/events/{id}/stats',
          req => sub { ('GET', '/api/events/' . $self->ev($_[0]) . '/stats') },
          entitled => sub { a($_[0]{json}{data}{event_id}, $self->ev($_[2]), 'the stats are of the event') } },
        { route => 'POST /api/events/{id}/guests/{guest_id}/qr',
          # a guest of the event used by nothing else (each allowed call re-issues its code;
          # of concurrent ones, one wins and the others are 409)
          again => 409,
          req => sub { ('POST', '/api/events/' . $self->ev($_[0]) . '/guests/' . $self->id_of($_[0], 'issue_guest') . '/qr') },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              return a($res->{json}{data}{guest_id}, $self->pick($target, 'issue_guest'), "the code is the $target guest's");
          } },
        { route => 'POST /api/qr/{token}/scan',
          # codes only these cells scan; a refused scan is a 200 answer with its reason
          req => sub { ('POST', '/api/qr/' . $self->qr_of($_[0], 'scan_qr') . '/scan', body => { gate => 'North', device => 'authz' }) },
          check => sub {
              my ($res, $caller, $target) = @_;
              my $want = $target eq 'missing' ? qr/^unknown$/
                       : $WORKS{$caller} == n_of($target) ? qr/^(?:accepted|already_used)$/ : qr/^wrong_event$/;
              return a($res->{json}{data}{reason} // '', $want, "scan by $caller of the $target code: reason");
          },
          # a door of another event learns nothing about the code's guest
          entitled => sub {
              my ($res, $caller, $target) = @_;
              my $mine = $target ne 'missing' && $WORKS{$caller} == n_of($target);
              my $guest = $res->{json}{data}{guest_id} // $res->{json}{data}{guest}{id} // '';
              return a($guest, $mine ? $self->pick($target, 'scan_guest') : '',
                       "scan by $caller of the $target code: " . ($mine ? "the code's guest" : 'no guest'));
          } },
        { route => 'POST /api/qr/{token}/revoke',
          # codes only these cells revoke: only one cell of each may succeed; later calls are 409
          again => 409,
          req => sub { ('POST', '/api/qr/' . $self->qr_of($_[0], 'revoke_qr') . '/revoke', body => { reason => 'authz matrix' }) },
          entitled => sub { a($_[0]{json}{data}{id}, $self->pick($_[2], 'revoke_code'), "the $_[2] code is revoked") } },
        { route => 'GET /api/qr/{token}/history',
          req => sub { ('GET', '/api/qr/' . $self->qr_of($_[0], 'scan_qr') . '/history') },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              my $code = $self->pick($target, 'scan_code');
              my @wrong = grep { ($_->{qr_code_id} // '') ne $code } items($res);
              return a(scalar(@wrong), 0, "the history of the $target code holds only its events");
          } },
        { route => 'GET /api/games/{id}/leaderboard',
          req => sub { ('GET', '/api/games/' . $self->id_of($_[0], 'game') . '/leaderboard') },
          entitled => sub { $self->players_of_game($_[0]{json}{data}, $_[2]) } },
        { route => 'GET /api/games/{id}/leaderboard/{participation_id}',
          req => sub { ('GET', '/api/games/' . $self->id_of($_[0], 'game') . '/leaderboard/' . $self->id_of($_[0], 'part')) },
          entitled => sub {
              my ($res, $caller, $target) = @_;
              my $around = $res->{json}{data}{around};
              my $part = $self->pick($target, 'part');
              return (a(scalar(grep { ($_->{participation_id} // '') eq $part } @{ ref $around eq 'ARRAY' ? $around : [] }), 1,
                        "the neighbours of the $target participation include it"),
                      $self->players_of_game($around, $target));
          } },
        { route => 'POST /api/games/{id}/play',
          # own: a game of the guest's event, other: a game of event 2
          req => sub { ('POST', '/api/games/' . $self->id_of($_[0], 'game') . '/play', body => { score => 7, completed => JSON::PP::true }) },
          check => sub {
              my ($res, $caller, $target) = @_;
              my $guest = $caller eq 'guestA' ? $f->{player_guest1} : $f->{b_guest1};
              return a($res->{json}{data}{guest_id}, $guest, "play by $caller records the caller's own participation");
          } },
        { route => 'POST /api/events',
          # last: it makes each account the owner of one more event; no target
          req => sub { ('POST', '/api/events', body => { name => "Authz new $tag", venue => 'Annex',
                                                         starts_at => $self->{starts}, ends_at => $self->{ends} }) },
          entitled => sub {
              my ($res, $caller) = @_;
              return a($res->{json}{data}{owner_id}, $self->{acc}{$caller}, "the new event is owned by $caller");
          } },
    );
}

# --- the expected matrix: "own other missing" per caller ('-': no such target) -------------------
# public: anyone; account routes: 401 anonymous, 403 guests (gateway, before the database);
# staff of the event: its staff and organisers; organiser: the owner (or an event_staff
# organizer); a row the caller may not see: 404, as for a missing one.
sub expectations {
    my $public  = { map { ($_ => '200 200 404') } @CALLERS };
    my $anyone  = { map { ($_ => '200 200 401') } @CALLERS };    # credentials: unknown ones 401
    my $acct    = sub { my (%r) = @_; return { anon => '401 401 401', guestA => '403 403 403', guestB => '403 403 403', %r } };
    my $staff   = $acct->(staff1 => '200 404 404', staff2 => '404 200 404', org1 => '200 404 404', org2 => '404 200 404');
    my $org     = sub { my ($ok) = @_;
                        $acct->(staff1 => '404 404 404', staff2 => '404 404 404',
                                org1 => "$ok 404 404", org2 => "404 $ok 404") };
    return (
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

# Every cell of the matrix: { route (the route's hash), caller, target, want } in matrix order.
sub cells {
    my ($self) = @_;
    my %expect = expectations();
    my @cells;
    for my $r ($self->routes) {
        for my $caller (@CALLERS) {
            my @want = split ' ', $expect{ $r->{route} }{$caller};
            for my $i (0 .. $#TARGETS) {
                next if $want[$i] eq '-';
                push @cells, { route => $r, caller => $caller, target => $TARGETS[$i], want => $want[$i] };
            }
        }
    }
    return @cells;
}

1;
