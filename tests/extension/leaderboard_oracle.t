# qr_event.leaderboard_rank against an oracle: for every completed participation of
# two games (12,000 rows with scores 0..300, heavy ties; 12,000 rows spread over
# 0..10^9, exercising every bucket level), after rounds of random score changes,
# uncompleting, completing, deletes and inserts, each round with or without a forced
# compaction, the competition, dense and ordinal ranks equal rank(), dense_rank() and
# row_number() over (total_score DESC, completed_at, id), and ranked_count equals
# count(*). Several seeds; QR_ORACLE_SEED=<0..1> replays one.
# Uses PGHOST/PGPORT/PGUSER; its own scratch database.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql scratch_database);

my @seeds = defined $ENV{QR_ORACLE_SEED} ? ($ENV{QR_ORACLE_SEED})
    : map { sprintf "%.6f", rand() } 1 .. 2;
my $rows = 12000;
my $current;
END { diag "replay with QR_ORACLE_SEED=$current" if defined $current && !Test::More->builder->is_passing; }

# One SQL query per game and mode: the function beside the window function.
sub mismatches {
    my ($db, $game, $mode, $window) = @_;
    my $order = $mode eq 'ordinal' ? 'total_score DESC, completed_at, id' : 'total_score DESC';
    return psql($db, <<"SQL");
SELECT count(*) FILTER (WHERE r.rank IS DISTINCT FROM o.expected OR r.ranked_count <> o.total)
       || ' of ' || count(*)
       || coalesce(' e.g. id ' || min(o.id) FILTER (WHERE r.rank IS DISTINCT FROM o.expected), '')
FROM (SELECT id, $window() OVER (ORDER BY $order) AS expected, count(*) OVER () AS total
      FROM qr_event.game_participations WHERE game_id = $game AND is_completed) AS o
CROSS JOIN LATERAL qr_event.leaderboard_rank($game, o.id, '$mode') AS r
SQL
}

# Random changes to a fraction of one game's participations, in one transaction.
sub churn {
    my ($db, $game, $spread, $compact) = @_;
    psql($db, <<"SQL");
BEGIN;
UPDATE qr_event.game_participations SET total_score = (random() * $spread)::bigint
WHERE game_id = $game AND random() < 0.05;
UPDATE qr_event.game_participations SET is_completed = false, completed_at = NULL
WHERE game_id = $game AND is_completed AND random() < 0.02;
UPDATE qr_event.game_participations
SET is_completed = true, completed_at = '2030-01-01'::timestamptz + (random() * 1000)::int * interval '1 second'
WHERE game_id = $game AND NOT is_completed AND random() < 0.3;
DELETE FROM qr_event.game_participations WHERE game_id = $game AND random() < 0.01;
COMMIT;
INSERT INTO qr_event.guests (event_id, first_name) SELECT 1, 'late ' || i FROM generate_series(1, 50) i;
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT 1, $game, g.id, (random() * $spread)::bigint, true,
       '2030-01-01'::timestamptz + (random() * 1000)::int * interval '1 second'
FROM qr_event.guests g
WHERE NOT EXISTS (SELECT FROM qr_event.game_participations p WHERE p.game_id = $game AND p.guest_id = g.id)
LIMIT 50;
SQL
    psql($db, "SELECT qr_event.leaderboard_compact($game)") if $compact;
}

for my $seed (@seeds) {
    $current = $seed;
    note "QR_ORACLE_SEED=$seed";
    my $db = scratch_database('qr_t_lb_oracle');
    psql($db, 'CREATE EXTENSION qr_event');
    psql($db, <<"SQL");
SET qr_event.leaderboard_compact_every = 0;
SELECT setseed($seed);
SELECT qr_event.create_account('oracle\@example.com', 'correct horse battery', 'Oracle');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at) VALUES (1, 'Oracle', now(), now() + interval '1 day');
INSERT INTO qr_event.games (event_id, title, status) VALUES (1, 'ties', 'live'), (1, 'spread', 'live');
INSERT INTO qr_event.guests (event_id, first_name) SELECT 1, 'guest ' || i FROM generate_series(1, $rows) i;
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, total_score, is_completed, completed_at)
SELECT 1, gm.id, g.id, (random() * gm.spread)::bigint, g.c, CASE WHEN g.c THEN
       '2030-01-01'::timestamptz + (random() * 1000)::int * interval '1 second' END
FROM (SELECT id, random() < 0.9 AS c FROM qr_event.guests) AS g,
     (VALUES (1, 300), (2, 1000000000)) AS gm (id, spread);
ANALYZE qr_event.game_participations;
SQL
    # every game: one compaction of the initial rows, then rounds of changes
    psql($db, 'SELECT qr_event.leaderboard_compact(1)');
    for my $round (1 .. 4) {
        for my $g ([1, 300], [2, 1000000000]) {
            churn($db, $g->[0], $g->[1], $round % 2);
        }
    }
    for my $game (1, 2) {
        my $completed = psql($db,
            "SELECT count(*) FROM qr_event.game_participations WHERE game_id = $game AND is_completed");
        cmp_ok($completed, '>=', 10000, "seed $seed game $game: at least 10,000 completed");
        for my $m (['competition', 'rank'], ['dense', 'dense_rank'], ['ordinal', 'row_number']) {
            my $r = mismatches($db, $game, @$m);
            like($r, qr/^0 of \d+$/, "seed $seed game $game $m->[0] = $m->[1]() ($r)");
        }
        # after compaction, the structure alone gives the same counts
        psql($db, "SELECT qr_event.leaderboard_compact($game)");
        my $r = mismatches($db, $game, 'dense', 'dense_rank');
        like($r, qr/^0 of \d+$/, "seed $seed game $game dense after compaction ($r)");
        is(psql($db, "SELECT count(*) FROM qr_event.leaderboard_deltas WHERE game_id = $game"), 0,
            "seed $seed game $game: nothing pending after compaction");
    }
    my $levels = psql($db, 'SELECT count(DISTINCT level) FROM qr_event.leaderboard_buckets WHERE game_id = 2');
    is($levels, 6, "seed $seed: the spread game populates all six bucket levels");
}

done_testing();
