# Cursor section of make bench (sourced by tests/bench/run.sh after the data load;
# PG* variables point at the bench database): tests/bench/cursor.sql prints the
# tables and writes the figures, recorded here.

bench_cursor() {
    local figures
    figures=$(mktemp /tmp/qr_bench.XXXXXX.tsv)
    psql -X -q -v ON_ERROR_STOP=1 -v figures="$figures" -f tests/bench/cursor.sql \
        || { rm -f "$figures"; return 1; }
    bench_figure_rows cursor <"$figures"
    rm -f "$figures"
}
