# qr_event.leaderboard and qr_event.leaderboard_around against an oracle: on games of
# more than 10,000 completed participations with heavy ties (few scores, few completion
# instants), after random updates and deletes, walking every page through the rows'
# cursors in each rank mode gives, row by row, the participation, score, display name
# and rank of rank(), dense_rank() and row_number() OVER (ORDER BY total_score DESC,
# completed_at, id); leaderboard_around agrees with the same oracle for a sample of
# participations and radii. QR_ORACLE_SEED=<0..1> replays the first seed of a run.
# Uses PGHOST/PGPORT/PGUSER; its own scratch database.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql scratch_database);

my $guests = 12000;
my @seeds = ($ENV{QR_ORACLE_SEED} // sprintf('%.6f', rand()), map { sprintf '%.6f', rand() } 1 .. 2);
note "seeds: @seeds";
END { diag "replay with QR_ORACLE_SEED=$seeds[0]" if @seeds && !Test::More->builder->is_passing; }

my $db = scratch_database('qr_t_lb_page');
psql($db, 'CREATE EXTENSION qr_event');
psql($db, <<"SQL");
INSERT INTO qr_event.accounts (email, password_hash, display_name)
VALUES ('oracle\@example.com', '\$pbkdf2-sha256\$i=1000\$AAAAAAAAAAAAAAAAAAAAAA\$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Oracle');
INSERT INTO qr_event.events (owner_id, name, starts_at, ends_at)
SELECT id, 'Oracle night', '2030-01-01', '2030-01-02' FROM qr_event.accounts;
INSERT INTO qr_event.families (event_id, name)
SELECT e.id, 'Family ' || i FROM qr_event.events e, generate_series(1, 600) AS i;
INSERT INTO qr_event.guests (event_id, first_name, last_name)
SELECT e.id, 'Guest' || i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'Last ' || (i % 97) END
FROM qr_event.events e, generate_series(1, $guests) AS i;

-- every completed participation with its name and its three ranks
CREATE VIEW oracle AS
SELECT p.game_id, p.id, p.total_score, p.completed_at,
       CASE WHEN p.guest_id IS NOT NULL THEN 'guest' ELSE 'family' END AS kind,
       coalesce(p.guest_id, p.family_id) AS participant_id,
       coalesce(f.name, g.first_name || coalesce(' ' || g.last_name, '')) AS name,
       rank() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC) AS competition,
       dense_rank() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC) AS dense,
       row_number() OVER (PARTITION BY p.game_id ORDER BY p.total_score DESC, p.completed_at, p.id) AS ordinal
FROM qr_event.game_participations p
LEFT JOIN qr_event.guests g ON g.id = p.guest_id
LEFT JOIN qr_event.families f ON f.id = p.family_id
WHERE p.is_completed;

-- walks a leaderboard from its first page through the last row's cursor of each page
CREATE FUNCTION walk(game bigint, size int, mode text)
RETURNS TABLE (n bigint, page int, rank bigint, id bigint, kind text, participant_id bigint, name text,
               score bigint, completed_at timestamptz, has_cursor boolean)
LANGUAGE plpgsql AS \$\$
DECLARE
    c text;
    last text;
    r record;
BEGIN
    n := 0;
    page := 0;
    LOOP
        page := page + 1;
        last := NULL;
        FOR r IN SELECT * FROM qr_event.leaderboard(game, size, c, mode) LOOP
            n := n + 1;
            rank := r.rank;
            id := r.participation_id;
            kind := r.participant_kind;
            participant_id := r.participant_id;
            name := r.display_name;
            score := r.total_score;
            completed_at := r.completed_at;
            has_cursor := r.cursor IS NOT NULL;
            last := r.cursor;
            RETURN NEXT;
        END LOOP;
        EXIT WHEN last IS NULL OR page > 100000;
        c := last;
    END LOOP;
END
\$\$;
SQL

# Per seed: a game where every guest and family plays, about 8% never complete; then
# random score updates, completions, un-completions and deletes.
for my $seed (@seeds) {
    my $game = psql($db, <<"SQL");
SELECT setseed($seed);
WITH g AS (INSERT INTO qr_event.games (event_id, title) SELECT id, 'Seed $seed' FROM qr_event.events RETURNING id, event_id),
ins AS (
INSERT INTO qr_event.game_participations (event_id, game_id, guest_id, family_id, total_score, is_completed, completed_at)
SELECT g.event_id, g.id, x.guest_id, x.family_id, (random() * 40)::int - 5, x.c, CASE WHEN x.c THEN
       '2030-01-01 12:00+00'::timestamptz + (random() * 12)::int * interval '5 minutes' END
FROM g, LATERAL (SELECT y.*, random() < 0.92 AS c
                 FROM (SELECT gu.id AS guest_id, NULL::bigint AS family_id
                       FROM qr_event.guests gu WHERE gu.event_id = g.event_id
                       UNION ALL
                       SELECT NULL, f.id FROM qr_event.families f WHERE f.event_id = g.event_id) AS y) AS x
ORDER BY random()
RETURNING game_id)
SELECT DISTINCT game_id FROM ins;
SQL
    ($game) = grep { /\S/ } split /\n/, $game;
    psql($db, <<"SQL");
SELECT setseed($seed / 2);
UPDATE qr_event.game_participations SET total_score = (random() * 40)::int - 5
WHERE game_id = $game AND random() < 0.05;
UPDATE qr_event.game_participations
SET is_completed = NOT is_completed,
    completed_at = CASE WHEN is_completed THEN NULL ELSE '2030-01-01 13:00+00'::timestamptz END
WHERE game_id = $game AND random() < 0.02;
DELETE FROM qr_event.game_participations WHERE game_id = $game AND random() < 0.03;
ANALYZE qr_event.game_participations;
SQL
    my ($ranked, $ties) = split /\|/, psql($db,
        "SELECT count(*), count(*) - count(DISTINCT total_score) FROM oracle WHERE game_id = $game");
    cmp_ok $ranked, '>=', 10000, "seed $seed: game $game has $ranked completed participations";
    cmp_ok $ties, '>', $ranked * 0.99, "seed $seed: almost every one ties with another";
    cmp_ok psql($db, "SELECT count(*) FROM qr_event.game_participations WHERE game_id = $game AND NOT is_completed"),
        '>', 500, "seed $seed: hundreds of participations are not completed, so not ranked";

    for my $walk (['competition', 100], ['dense', 100], ['ordinal', 100], ['competition', 37], ['dense', 7]) {
        my ($mode, $size) = @$walk;
        my ($got, $want, $bad, $first_bad, $cursors, $pages) = split /\|/, psql($db, <<"SQL");
SELECT count(w.n), count(o.ordinal),
       count(*) FILTER (WHERE w.n IS NULL OR o.ordinal IS NULL OR w.id <> o.id OR w.score <> o.total_score
                          OR w.completed_at <> o.completed_at OR w.kind <> o.kind
                          OR w.participant_id <> o.participant_id OR w.name IS DISTINCT FROM o.name
                          OR w.rank <> CASE '$mode' WHEN 'competition' THEN o.competition
                                                    WHEN 'dense' THEN o.dense ELSE o.ordinal END),
       min(coalesce(w.n, o.ordinal)) FILTER (WHERE w.n IS NULL OR o.ordinal IS NULL OR w.id <> o.id
                          OR w.rank <> CASE '$mode' WHEN 'competition' THEN o.competition
                                                    WHEN 'dense' THEN o.dense ELSE o.ordinal END),
       bool_and(w.has_cursor = (w.n < (SELECT count(*) FROM oracle WHERE game_id = $game))),
       max(w.page)
FROM walk($game, $size, '$mode') w
FULL JOIN (SELECT * FROM oracle WHERE game_id = $game) o ON o.ordinal = w.n
SQL
        is $got, $want, "seed $seed, $mode, pages of $size: the walk shows every ranked row ($want in $pages pages)";
        is $bad, 0, "seed $seed, $mode, pages of $size: every row, name and rank as the oracle's"
            or diag "first difference at position $first_bad";
        is $cursors, 't', "seed $seed, $mode, pages of $size: every row but the last carries a cursor";
    }

    # around: a sample of participations (the first and the last among them) with
    # radii 0 to 50, in every mode
    my ($checked, $bad) = split /\|/, psql($db, <<"SQL");
SELECT count(*), count(*) FILTER (WHERE got.ids IS DISTINCT FROM want.ids OR got.ranks IS DISTINCT FROM want.ranks
                                    OR got.names IS DISTINCT FROM want.names)
FROM (SELECT o.id, o.ordinal, ((o.id * 7 + o.ordinal) % 51)::int AS radius,
             (ARRAY['competition', 'dense', 'ordinal'])[1 + o.id % 3] AS mode
      FROM oracle o WHERE o.game_id = $game
      ORDER BY o.ordinal = 1 OR o.ordinal = (SELECT count(*) FROM oracle WHERE game_id = $game) DESC,
               md5(o.id::text || '$seed')
      LIMIT 300) AS s
CROSS JOIN LATERAL (
    SELECT array_agg(a.participation_id ORDER BY a.n) AS ids, array_agg(a.rank ORDER BY a.n) AS ranks,
           array_agg(a.display_name ORDER BY a.n) AS names
    FROM qr_event.leaderboard_around($game, s.id, s.radius, s.mode)
         WITH ORDINALITY AS a (rank, participation_id, k, pid, display_name, score, at, c, n)) AS got
CROSS JOIN LATERAL (
    SELECT array_agg(o.id ORDER BY o.ordinal) AS ids,
           array_agg(CASE s.mode WHEN 'competition' THEN o.competition WHEN 'dense' THEN o.dense ELSE o.ordinal END
                     ORDER BY o.ordinal) AS ranks,
           array_agg(o.name ORDER BY o.ordinal) AS names
    FROM oracle o WHERE o.game_id = $game AND o.ordinal BETWEEN s.ordinal - s.radius AND s.ordinal + s.radius) AS want
SQL
    is $checked, 300, "seed $seed: around checked for 300 participations";
    is $bad, 0, "seed $seed: leaderboard_around agrees with the oracle for every one";
}

done_testing;
