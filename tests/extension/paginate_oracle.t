# qr_event.paginate against an oracle: on random rows with many duplicate sort values
# and NULLs, paging forward through every page via next_cursor, and backward from the
# last page via prev_cursor, gives exactly the rows of a full ORDER BY (same NULL
# placement, primary key as the last tie-breaker), for several orders, filters and page
# sizes; page numbers count 1, 2, ... and back; exact totals equal count(*).
# QR_ORACLE_SEED=<0..1> replays a run. Uses PGHOST/PGPORT/PGUSER; its own scratch database.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql literal scratch_database);

my $rows = 3000;
my $seed = $ENV{QR_ORACLE_SEED} // sprintf('%.6f', rand());
note "QR_ORACLE_SEED=$seed";
END { diag "replay with QR_ORACLE_SEED=$seed" if defined $seed && !Test::More->builder->is_passing; }

my $db = scratch_database('qr_t_oracle');
psql($db, 'CREATE EXTENSION qr_event');
psql($db, <<"SQL");
SELECT setseed($seed);
CREATE TABLE oracle_rows (
    id      bigint PRIMARY KEY,
    grp     integer NOT NULL,
    score   integer,
    label   text,
    at      timestamptz,
    amount  numeric NOT NULL
);
INSERT INTO oracle_rows
SELECT i, (random() * 3)::int,
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 12)::int END,
       CASE WHEN random() < 0.15 THEN NULL ELSE (ARRAY['ant', 'Bee', 'cat', 'dog', 'ému', 'fox'])[1 + (random() * 5)::int] END,
       CASE WHEN random() < 0.2 THEN NULL ELSE '2030-01-01 00:00+00'::timestamptz + (random() * 7)::int * interval '90 minutes' END,
       round((random() * 4)::numeric, 1)
FROM generate_series(1, $rows) AS g (i), LATERAL (SELECT g.i * 7919 % 100003 AS shuffled) s
ORDER BY s.shuffled;
ANALYZE oracle_rows;
SQL
is psql($db, 'SELECT count(*) FROM oracle_rows'), $rows, "$rows random rows";
cmp_ok psql($db, 'SELECT count(*) - count(DISTINCT (score, label)) FROM oracle_rows'), '>', $rows / 2,
    'most rows share their sort values with others';

# Walks forward to the end and backward from the last page, checking page numbers,
# flags and cursors on the way; returns both walks' ids and what went wrong.
psql($db, <<'SQL');
CREATE FUNCTION walk(order_by text[], size int, filter jsonb,
                     OUT forward bigint[], OUT backward bigint[], OUT pages int, OUT problems text[],
                     OUT total bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    c text;
    ids bigint[];
    expect int := 1;
BEGIN
    forward := '{}';
    problems := '{}';
    LOOP
        SELECT * INTO r FROM qr_event.paginate(NULL::oracle_rows, order_by, size, c, filter,
                                               CASE WHEN c IS NULL THEN 'exact' ELSE 'none' END);
        IF c IS NULL THEN
            total := r.total;
        END IF;
        ids := ARRAY(SELECT u.id FROM unnest(r.items) WITH ORDINALITY AS u ORDER BY u.ordinality);
        IF r.page <> expect THEN
            problems := problems || format('forward page %s is numbered %s', expect, r.page);
        END IF;
        IF r.has_prev <> (expect > 1) OR (r.prev_cursor IS NULL) = r.has_prev THEN
            problems := problems || format('forward page %s: has_prev %s, prev_cursor %s', expect,
                                           r.has_prev, r.prev_cursor IS NOT NULL);
        END IF;
        IF (r.next_cursor IS NULL) = r.has_next THEN
            problems := problems || format('forward page %s: has_next %s, next_cursor %s', expect,
                                           r.has_next, r.next_cursor IS NOT NULL);
        END IF;
        IF cardinality(ids) <> size AND r.has_next OR cardinality(ids) > size THEN
            problems := problems || format('forward page %s has %s rows', expect, cardinality(ids));
        END IF;
        forward := forward || ids;
        EXIT WHEN NOT r.has_next OR expect > 100000;
        c := r.next_cursor;
        expect := expect + 1;
    END LOOP;
    pages := expect;
    backward := ids;
    WHILE r.has_prev LOOP
        c := r.prev_cursor;
        expect := expect - 1;
        SELECT * INTO r FROM qr_event.paginate(NULL::oracle_rows, order_by, size, c, filter);
        ids := ARRAY(SELECT u.id FROM unnest(r.items) WITH ORDINALITY AS u ORDER BY u.ordinality);
        IF r.page <> expect THEN
            problems := problems || format('backward page %s is numbered %s', expect, r.page);
        END IF;
        IF NOT r.has_next OR r.next_cursor IS NULL OR cardinality(ids) <> size THEN
            problems := problems || format('backward page %s: has_next %s, %s rows', expect,
                                           r.has_next, cardinality(ids));
        END IF;
        backward := ids || backward;
        EXIT WHEN expect < 0;
    END LOOP;
    IF expect <> 1 THEN
        problems := problems || format('the backward walk ended on page %s', expect);
    END IF;
END
$$;
SQL

# [order_by, the oracle's ORDER BY]; the primary key is appended unless the order has it
my @orders = (
    ['{score}',                   'score ASC NULLS LAST, id'],
    ['{score DESC}',              'score DESC NULLS FIRST, id'],
    ['{label DESC, score}',       'label DESC NULLS FIRST, score ASC NULLS LAST, id'],
    ['{at, label DESC, score}',   'at ASC NULLS LAST, label DESC NULLS FIRST, score ASC NULLS LAST, id'],
    ['{amount DESC, grp, id DESC}', 'amount DESC, grp, id DESC'],
    ['{grp, amount}',             'grp, amount, id'],
    ['{at DESC, id DESC}',        'at DESC NULLS FIRST, id DESC'],
);
my @filters = (
    ['{}',                     'true'],
    ['{"grp": 1}',             'grp = 1'],
    ['{"label": null}',        'label IS NULL'],
    ['{"grp": 2, "score": 5}', 'grp = 2 AND score = 5'],
);

# Checks the orders with the given page sizes and filters; a page of one row walks
# 2 x $rows pages, so it runs a single-key, two mixed and a row-comparison order only.
sub check_orders {
    my ($how, $sizes, $filters_of) = @_;
    for my $size (@$sizes) {
        for my $o ($size == 1 ? @orders[0, 3, 4, 5] : @orders) {
            for my $f ($filters_of->($size)) {
                my ($order_by, $oracle) = @$o;
                my ($filter, $where) = @$f;
                my $what = "$how: $order_by, filter $filter, page size $size";
                my ($forward, $backward, $pages, $n, $problems, $total) = split /\|/, psql($db, <<"SQL");
SELECT w.forward = o.ids, w.backward = o.ids, w.pages = greatest(1, ceil(cardinality(o.ids)::numeric / $size)),
       cardinality(o.ids), array_to_string(w.problems, '; '), w.total = cardinality(o.ids)
FROM walk(@{[literal($order_by)]}, $size, @{[literal($filter)]}) AS w,
     (SELECT coalesce(array_agg(id ORDER BY $oracle), '{}') AS ids FROM oracle_rows WHERE $where) AS o
SQL
                $problems //= '';
                ok $forward eq 't', "$what: forward walk gives the ORDER BY rows ($n)";
                ok $backward eq 't', "$what: backward walk gives them too";
                ok $pages eq 't' && $problems eq '', "$what: page numbers, flags and cursors"
                    or diag $problems;
                ok $total eq 't', "$what: exact total is count(*)";
            }
        }
    }
}

# Without indexes every page is a top-N sort of the list (slow for small pages).
check_orders('sorted', [7, 100], sub { return $_[0] == 7 ? $filters[1] : @filters[0, 1] });

# With an index per order, pages are bounded index scans (the NULLs of an ascending
# first key in a second branch): every page size, every filter.
psql($db, <<'SQL');
CREATE INDEX ON oracle_rows (score, id);
CREATE INDEX ON oracle_rows (score DESC, id);
CREATE INDEX ON oracle_rows (label DESC, score, id);
CREATE INDEX ON oracle_rows (at, label DESC, score, id);
CREATE INDEX ON oracle_rows (amount DESC, grp, id DESC);
CREATE INDEX ON oracle_rows (grp, amount, id);
CREATE INDEX ON oracle_rows (at DESC, id DESC);
ANALYZE oracle_rows;
SQL
like psql($db, q{SELECT qr_event.paginate_explain(NULL::oracle_rows, '{amount DESC, grp, id DESC}', 7,
                 (SELECT next_cursor FROM qr_event.paginate(NULL::oracle_rows, '{amount DESC, grp, id DESC}', 7)))}),
    qr/Index Cond: \(amount <= /, 'with the indexes, a page is an index scan bounded on the first key';
like psql($db, q{SELECT qr_event.paginate_explain(NULL::oracle_rows, '{grp, amount}', 7,
                 (SELECT next_cursor FROM qr_event.paginate(NULL::oracle_rows, '{grp, amount}', 7)))}),
    qr/Index Cond: \(ROW\(grp, amount, id\) > ROW\(/, 'keys in one direction that cannot be NULL compare as a row';
check_orders('indexed', [1, 7, 100], sub { return $_[0] == 1 ? $filters[0] : @filters });

done_testing;
