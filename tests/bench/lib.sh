# Helpers shared by the sections of make bench (sourced by tests/bench/run.sh, which
# sets bench_out to the folder of the section files).
#
# Besides its Markdown on stdout, each section records its figures in
# $bench_out/<section>.tsv, one line per figure, with these tab-separated columns
# (a header line first):
#     section        the section's name
#     id             the figure's name, unique in its section
#     description    what was measured
#     measured       the value (a number, or a word such as "cancelled")
#     unit           of measured and baseline (ms, s, tps, req/s, ...)
#     baseline_desc  what the same run measured to compare with ("" when nothing)
#     baseline       its value ("" when nothing)
#     ratio          the ratio the section reports ("" when none)
#     ratio_of       baseline/measured (how many times faster) or measured/baseline
#     target         the target the figure is checked against ("" for a plain figure)
#     met            yes or no for a target, — for a plain figure
# tests/bench/report.pl turns these files into the run's report.

BENCH_FIGURE_COLUMNS=(section id description measured unit baseline_desc baseline ratio ratio_of target met)

# Records one figure of section $1 named $2; the other columns as key=value arguments:
#     bench_figure <section> <id> desc=... measured=... unit=... [baseline_desc=...
#         baseline=... ratio=... ratio_of=baseline/measured|measured/baseline]
#         [target=... met=yes|no]
bench_figure() {
    local section=$1 id=$2 arg key
    shift 2
    local -A f=([desc]="" [measured]="" [unit]="" [baseline_desc]="" [baseline]=""
                [ratio]="" [ratio_of]="" [target]="" [met]="—")
    for arg in "$@"; do
        key=${arg%%=*}
        [ -n "${f[$key]+set}" ] && [ "$key" != "$arg" ] \
            || { echo "bench_figure $section $id: unknown argument '$arg'" >&2; return 1; }
        f[$key]=${arg#*=}
    done
    # bench_ratio prints — when the baseline is 0: no ratio then
    if [ "${f[ratio]}" = — ]; then f[ratio]="" f[ratio_of]=""; fi
    local number='^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$' problem=""
    case "$id$section${f[*]}" in *$'\t'* | *$'\n'*) problem="a tab or newline in a value" ;; esac
    [[ $id =~ ^[a-z0-9][a-z0-9-]*$ ]] || problem="id must be lower-case words joined by -"
    [ -n "${f[desc]}" ] && [ -n "${f[measured]}" ] || problem="desc and measured are required"
    [ -z "${f[baseline]}" ] || [[ ${f[baseline]} =~ $number ]] || problem="baseline '${f[baseline]}' is not a number"
    [ -z "${f[ratio]}" ] || [[ ${f[ratio]} =~ $number ]] || problem="ratio '${f[ratio]}' is not a number"
    case "${f[ratio]:+r}:${f[ratio_of]}" in
        r:baseline/measured | r:measured/baseline | :) ;;
        *) problem="ratio_of must be baseline/measured or measured/baseline, and only with a ratio" ;;
    esac
    case "${f[target]:+t}:${f[met]}" in
        t:yes | t:no | :—) ;;
        *) problem="met must be yes or no with a target, — without" ;;
    esac
    if [ -n "$problem" ]; then
        echo "bench_figure $section $id: $problem" >&2
        return 1
    fi
    local file="$bench_out/$section.tsv"
    if [ ! -s "$file" ]; then
        (IFS=$'\t'; echo "${BENCH_FIGURE_COLUMNS[*]}") >"$file"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$id" "${f[desc]}" \
        "${f[measured]}" "${f[unit]}" "${f[baseline_desc]}" "${f[baseline]}" "${f[ratio]}" \
        "${f[ratio_of]}" "${f[target]}" "${f[met]}" >>"$file"
}

# Records the figures of section $1 read from stdin: tab-separated lines with the
# columns id to met (as psql writes them with fieldsep '\t'; NULL as empty).
bench_figure_rows() {
    local section=$1 line
    local -a c
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        readarray -t -d $'\t' c < <(printf '%s' "$line")
        [ ${#c[@]} -le 10 ] || { echo "bench_figure_rows $section: more than 10 columns: $line" >&2; return 1; }
        bench_figure "$section" "${c[0]}" desc="${c[1]:-}" measured="${c[2]:-}" unit="${c[3]:-}" \
            baseline_desc="${c[4]:-}" baseline="${c[5]:-}" ratio="${c[6]:-}" ratio_of="${c[7]:-}" \
            target="${c[8]:-}" met="${c[9]:-—}"
    done
}

# Prints the head of a section's Markdown target table.
bench_targets_header() {
    printf '| target | measured | met |\n| --- | ---: | --- |\n'
}

# Prints one Markdown target row and records it as a figure of section $1 named $2:
# the arguments of bench_figure (target and met required) plus shown=, the text of
# the row's measured cell, and note=, an aside printed after the target in the row only.
bench_target() {
    local section=$1 id=$2 arg shown="" note="" target="" met=""
    local -a rest=()
    shift 2
    for arg in "$@"; do
        case $arg in
            shown=*) shown=${arg#shown=} ;;
            note=*) note=${arg#note=} ;;
            *) case $arg in target=*) target=${arg#target=} ;; met=*) met=${arg#met=} ;; esac
               rest+=("$arg") ;;
        esac
    done
    bench_figure "$section" "$id" "${rest[@]}" || return 1
    echo "| $target${note:+ ($note)} | $shown | $( [ "$met" = yes ] && echo yes || echo NO ) |"
}

# Prints yes when "$1 $2 $3" holds for the numbers $1 and $3 (operator $2: < <= >= >), else no.
bench_met() {
    awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
        ok = (op == "<") ? a < b : (op == "<=") ? a <= b : (op == ">=") ? a >= b : (op == ">") ? a > b : -1
        if (ok < 0) { print "bench_met: unknown operator " op > "/dev/stderr"; exit 1 }
        print ok ? "yes" : "no" }'
}

# Prints the ratio $1 as a whole percentage ("0.754" -> "75%").
bench_percent() {
    awk -v r="$1" 'BEGIN { printf "%.0f%%", 100 * r }'
}

# Prints the median of its arguments (numbers).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Prints "a b" ratios as b/a with one decimal.
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1f", b / a; else print "—" }'
}
