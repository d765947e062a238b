# shellcheck shell=bash disable=SC2154  # repo_root, build_dir and preset_dir are the caller's
# Shell helpers shared by the benchmark drivers bench/run-*.sh.
# Sourced, not run. The caller sets repo_root (the repository), build_dir (an absolute
# CMake build dir) and preset_dir ("$repo_root/build/release"), and defines log MSG (to
# stderr) and die MSG (log and exit 1).

# --- command lines (bad_arg MSG is the caller's: it prints MSG and the usage, exits 2) ----

need_value() { [[ "$2" -ge 2 ]] || bad_arg "$1 needs a value"; }
# parse_opts SPEC ARGS...: sets the caller's variables from the options ARGS, as SPEC
# says, a line per option:
#   --name =var         --name VALUE or --name=VALUE sets var to VALUE
#   --name var=VALUE    --name (no value) sets var to VALUE
# -h/--help prints the caller's usage and exits 0; anything else is bad_arg (exit 2).
parse_opts() {
    local spec="$1" arg opt val has opt_s set_s found
    shift
    while (( $# )); do
        arg="$1"
        shift
        case "$arg" in -h|--help) usage; exit 0 ;; esac
        opt="${arg%%=*}" val="" has=0
        if [[ "$arg" == *=* ]]; then val="${arg#*=}" has=1; fi
        found=0
        while read -r opt_s set_s; do
            [[ -n "$opt_s" && "$opt_s" == "$opt" ]] || continue
            found=1
            if [[ "$set_s" == =* ]]; then
                if (( !has )); then
                    need_value "$opt" $(( $# + 1 ))
                    val="$1"
                    shift
                fi
                printf -v "${set_s#=}" '%s' "$val"
            else
                (( !has )) || bad_arg "$opt takes no value (got '$arg')"
                printf -v "${set_s%%=*}" '%s' "${set_s#*=}"
            fi
            break
        done <<<"$spec"
        (( found )) || bad_arg "unknown argument '$arg'"
    done
}
is_pos_int() { [[ "$1" =~ ^[1-9][0-9]{0,8}$ ]]; }
# split_list VAR TEXT: the words of TEXT, separated by commas or blanks, into array VAR.
split_list() { IFS=$', \t\n' read -r -a "$1" <<<"$2" || true; }
# pos_int_or_default VAR OPT QUICK_DEFAULT FULL_DEFAULT: VAR's value checked (OPT names it
# in the message), or the default for the caller's $quick.
pos_int_or_default() {
    local -n v="$1"
    if [[ -z "$v" ]]; then
        v=$(( quick ? $3 : $4 ))
    else
        is_pos_int "$v" || bad_arg "$2 must be a positive integer, got '$v'"
    fi
}
# procs_list_of TEXT: --procs TEXT ("1 2" or 1,2) into the array procs_list, each value a
# positive integer.
procs_list_of() {
    local p
    split_list procs_list "$1"
    for p in ${procs_list[@]+"${procs_list[@]}"}; do
        is_pos_int "$p" || bad_arg "--procs: '$p' is not a positive integer (in '$1')"
    done
    [[ ${#procs_list[@]} -gt 0 ]] || bad_arg "--procs: empty list"
}
# save_or_default QUICK_DEFAULT FULL_DEFAULT: the caller's $save checked to be a plain file
# name (or none), or the default for $quick.
save_or_default() {
    if [[ -z "$save" ]]; then
        save=$( ((quick)) && echo "$1" || echo "$2" )
    else
        [[ "$save" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] \
            || bad_arg "--save: '$save' is not a plain file name (letters, digits, . _ -)"
    fi
}

# --- the programs' lines ------------------------------------------------------------------
# Every benchmark program prints one line of KEY=VALUE words.

# field LINE KEY: the value of KEY=... in LINE.
field() {
    printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }'
}
# has_field LINE KEY: LINE has KEY=...
has_field() { [[ " $1 " == *" $2="* ]]; }
# exit_why RC: what a failed exit status of a run under `timeout $timeout_s` means, or
# nothing for 0.
exit_why() {
    if [[ $1 -eq 124 || $1 -eq 137 ]]; then echo "timed out after ${timeout_s}s (hang?)"
    elif [[ $1 -gt 128 ]]; then echo "killed by signal $(($1 - 128)) (exit status $1)"
    elif [[ $1 -ne 0 ]]; then echo "exit status $1"
    fi
}

# fail_run KEY WHY REPRO LABEL: a run failed: shows its output ($outfile, $errfile), logs
# WHY and how to reproduce it, records it in the caller's failed[KEY] and counts it in
# failures.
fail_run() {
    [[ -s "$outfile" ]] && sed 's/^/  | /' "$outfile"
    [[ -s "$errfile" ]] && sed 's/^/  | /' "$errfile" >&2
    log "FAILED: $4: $2"
    log "  reproduce: $3"
    # shellcheck disable=SC2034  # the caller's table
    failed["$1"]="$2; reproduce: $3"
    failures=$((failures + 1))
}

# time_and_failures BUILD_S RUNS_S: the closing lines: the time taken, then the runs that
# failed (the caller's failed and failures), if any. Returns 1 when some did.
time_and_failures() {
    local k
    printf 'time: %d s in all (building %d s, runs %d s)\n' "$(( SECONDS - start_s ))" "$1" "$2"
    (( failures > 0 )) || return 0
    echo
    echo "$failures failed run(s):"
    for k in "${!failed[@]}"; do printf '  %s: %s\n' "$k" "${failed[$k]}"; done | sort
    return 1
}

# --- building the C++ side ------------------------------------------------------------

# resolve_build_dir: the caller's $build_dir made absolute (relative to $repo_root), without
# a trailing slash; sets preset_dir (the release preset's dir) and results_dir.
resolve_build_dir() {
    [[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
    build_dir="${build_dir%/}"
    preset_dir="$repo_root/build/release"
    # shellcheck disable=SC2034  # the caller's
    results_dir="$repo_root/bench/results"
}

# (Called in || lists, where set -e does not apply: every step checks.)

# configure_tree: configure build_dir: the release preset for the default dir, else a
# Release Ninja tree (or a re-run of CMake in an existing tree).
configure_tree() {
    cd "$repo_root" || return 1
    if [[ "$build_dir" == "$preset_dir" ]]; then
        log "configuring: cmake --preset release"
        cmake --preset release >&2 || return 1
    else
        log "configuring $build_dir (Release)"
        if [[ -f "$build_dir/CMakeCache.txt" ]]; then
            cmake -S "$repo_root" -B "$build_dir" >&2 || return 1
        else
            cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || return 1
        fi
    fi
}

# tree_targets: the names of the targets the build tree defines, one per line.
tree_targets() {
    local out
    out="$(cmake --build "$build_dir" --target help 2>/dev/null)" || return 1
    # Ninja: "name: phony"; Makefiles: "... name".
    printf '%s\n' "$out" | sed -n -e 's/^\([A-Za-z0-9_.+-]*\): .*/\1/p' -e 's/^\.\.\. \([A-Za-z0-9_.+-]*\).*/\1/p'
}

# build_targets TARGET...: build (or bring up to date) these targets of build_dir.
build_targets() {
    cd "$repo_root" || return 1
    if [[ "$build_dir" == "$preset_dir" ]]; then
        log "building: cmake --build --preset release --target $*"
        cmake --build --preset release --target "$@" >&2 || return 1
    else
        log "building: cmake --build $build_dir --target $*"
        cmake --build "$build_dir" --target "$@" >&2 || return 1
    fi
}

# --- the Go side ------------------------------------------------------------------------

# go_setup HINT: find Go 1.24 with tools/go-toolchain.sh (fetching it the first time) and
# set go_cmd (the go binary), go_env (an env prefix that builds offline, with the module
# and build caches under the mnsched cache dir) and go_version. Without a toolchain it dies,
# adding HINT (what to do instead) to the message. With only the fallback (Debian 12's
# golang-go) it warns: the figures are then not the published comparison.
go_setup() {
    go_find || die "could not get a Go toolchain: $go_missing. $1"
}

# go_find: go_setup's work, but without a toolchain it returns 1, with the reason in
# go_missing, for a caller that can go on without Go.
go_find() {
    local home cache_base
    go_missing=""
    go_cmd="$("$repo_root/tools/go-toolchain.sh" </dev/null)" \
        || { go_missing="tools/go-toolchain.sh failed (its messages are above)"; return 1; }
    [[ -n "$go_cmd" && -x "$go_cmd" ]] \
        || { go_missing="tools/go-toolchain.sh printed no usable go ('$go_cmd')"; return 1; }

    home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
    cache_base="${MN_CACHE_DIR:-${XDG_CACHE_HOME:-$home/.cache}/mnsched}"
    go_env=(
        env -u GOROOT -u GOBIN
        GOFLAGS=-mod=mod
        GOCACHE="$cache_base/go-build"
        GOPATH="$cache_base/gopath"
        GOMODCACHE="$cache_base/gopath/pkg/mod"
        GOTOOLCHAIN=local
        GOPROXY=off
        GOSUMDB=off
        GOWORK=off
        GOENV=off
        CGO_ENABLED=0
    )
    go_version="$(cd / && "${go_env[@]}" "$go_cmd" version)" \
        || { go_missing="$go_cmd version failed"; return 1; }
    if [[ "$go_version" != "go version go1.24"* ]]; then
        # tools/go-toolchain.sh's fallback (Debian 12's golang-go) when Go 1.24 cannot be
        # fetched: the run goes on, and the version is named here and under the table.
        log "WARNING: comparing against '$go_version', not Go 1.24 (tools/go-toolchain.sh fell back to $go_cmd); the figures are not the published comparison"
    fi
}

# go_build DIR OUT: build bench/go/DIR into OUT (after go_setup).
go_build() {
    (cd "$repo_root/bench/go/$1" && "${go_env[@]}" "$go_cmd" build -trimpath -o "$2" .)
}

# go_bin TARGET: the Go program of a workload's TARGET (bench/workloads.sh's case_target),
# <build-dir>/bench/TARGET-go.
go_bin() { printf '%s\n' "$build_dir/bench/$1-go"; }

# go_build_cases: build the Go program of each of the caller's `cases` (bench/go/<dir>,
# bench/workloads.sh's godir_of) into its go_bin, once per target (after go_setup); dies on a
# failure.
go_build_cases() {
    local c t d built=" "
    mkdir -p "$build_dir/bench" || die "cannot create $build_dir/bench"
    for c in "${cases[@]}"; do
        t="${case_target[$c]}" d="$(godir_of "$c")"
        [[ "$built" == *" $t "* ]] && continue
        [[ -d "$repo_root/bench/go/$d" ]] || die "no Go program bench/go/$d for $c"
        log "building $(go_bin "$t") from bench/go/$d"
        go_build "$d" "$(go_bin "$t")" || die "building bench/go/$d failed"
        built+="$t "
    done
}

# --- statistics ---------------------------------------------------------------------------

# summarize_values: the numbers on stdin (one a line, in run order) as "median min max
# spread count v1,v2,..." (spread: the relative half-range in percent, 100 * (max - min) /
# 2 / |median|, or "-" when the median is 0), or "- - - - 0 " without any. Values keep the
# precision they were given in; the median of an even count is the mean of the middle two.
summarize_values() {
    awk '
        NF { n++; v[n] = $1 + 0; raw[n] = $1 }
        END {
            if (n == 0) { print "- - - - 0 "; exit }
            list = raw[1]; for (i = 2; i <= n; i++) list = list "," raw[i]
            for (i = 2; i <= n; i++) { x = v[i]; j = i - 1; while (j >= 1 && v[j] > x) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            lo = v[1]; hi = v[n]
            sp = (med != 0) ? sprintf("%.1f", 100 * (hi - lo) / 2 / (med < 0 ? -med : med)) : "-"
            printf "%.10g %.10g %.10g %s %d %s\n", med, lo, hi, sp, n, list
        }'
}

is_num() { [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }

# ratio A B: A / B to 2 decimals, or n/a when either is not a number, B is not positive
# or A is negative.
ratio() {
    awk -v o="$1" -v m="$2" 'BEGIN {
        if (o !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || m !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || m + 0 <= 0 || o + 0 < 0) { print "n/a"; exit }
        printf "%.2f\n", o / m }'
}

# t95_awk: an awk function t95(DF), the two-sided 95% quantile of Student's t with DF
# degrees of freedom (2.0 beyond 30), for the awk programs below.
t95_awk='function t95(df) {
    split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23 2.20 2.18 2.16 2.14 2.13 2.12 2.11 2.10 2.09 2.09 2.08 2.07 2.07 2.06 2.06 2.06 2.05 2.05 2.05 2.04", tq, " ")
    return (df <= 30) ? tq[df] : 2.0
}
'

# paired LIST_A LIST_B: two comma-separated lists of runs paired in run order (the i-th of
# A and of B ran next to each other), as "estimate low high": the geometric mean of B/A and
# its 95% confidence interval (Student's t on the log ratios), as changes in percent
# (+2.0 is B 2% above A); "- - -" with fewer than two pairs. The machine's slow drifts
# disturb it less than a ratio of medians.
paired() {
    awk -v a="$1" -v b="$2" "$t95_awk"'BEGIN {
        na = split(a, x, ","); nb = split(b, y, ","); k = (na < nb) ? na : nb; n = 0; s = 0; ss = 0
        for (i = 1; i <= k; i++) if (x[i] + 0 > 0 && y[i] + 0 > 0) { l[++n] = log(y[i] / x[i]); s += l[n] }
        if (n < 2) { print "- - -"; exit }
        m = s / n; for (i = 1; i <= n; i++) ss += (l[i] - m) ^ 2
        se = sqrt(ss / (n - 1) / n)
        t = t95(n - 1)
        printf "%+.1f %+.1f %+.1f\n", 100 * (exp(m) - 1), 100 * (exp(m - t * se) - 1), 100 * (exp(m + t * se) - 1)
    }'
}

# suite_geomean: one line per workload on stdin, "LIST_A LIST_B" (paired's two lists), as
# "estimate low high count": the geometric mean over the workloads of each one's paired
# ratio B/A (the geometric mean of its runs' ratios), as a change in percent, with its 95%
# confidence interval from the runs' noise (the workloads are the suite, not a sample: the
# variances of the workloads' mean log ratios are added, Student's t with the pooled
# degrees of freedom), and the count of workloads it is over. low and high are "-" when a
# workload has fewer than two pairs; "- - - 0" without any workload.
suite_geomean() {
    awk "$t95_awk"'
        {
            na = split($1, x, ","); nb = split($2, y, ","); k = (na < nb) ? na : nb; n = 0; s = 0; ss = 0
            for (i = 1; i <= k; i++) if (x[i] + 0 > 0 && y[i] + 0 > 0) { l[++n] = log(y[i] / x[i]); s += l[n] }
            if (n == 0) next
            w++; m = s / n; sum += m
            if (n < 2) { single = 1; next }
            for (i = 1; i <= n; i++) ss += (l[i] - m) ^ 2
            var += ss / (n - 1) / n; df += n - 1
        }
        END {
            if (w == 0) { print "- - - 0"; exit }
            m = sum / w
            if (single) { printf "%+.1f - - %d\n", 100 * (exp(m) - 1), w; exit }
            se = sqrt(var) / w; t = t95(df)
            printf "%+.1f %+.1f %+.1f %d\n", 100 * (exp(m) - 1), 100 * (exp(m - t * se) - 1), 100 * (exp(m + t * se) - 1), w
        }'
}

# case_stats CASE PROCS SIDE METRIC: summarize_values of the runs recorded in $results,
# whose lines are "case procs side metric value" (the A/B harnesses' format).
case_stats() {
    awk -v c="$1" -v p="$2" -v s="$3" -v m="$4" '$1 == c && $2 == p && $3 == s && $4 == m { print $5 }' "$results" \
        | summarize_values
}
# unit METRIC: the unit its name ends in (ms, us; ns otherwise).
unit() {
    case "$1" in
        ms|*_ms) echo ms ;;
        *_us)    echo us ;;
        *)       echo ns ;;
    esac
}
# median_cell MEDIAN SPREAD: "median ±spread%" (without the spread when it is -).
median_cell() {
    if is_num "$1"; then
        printf '%.1f%s' "$1" "$([[ "$2" != - ]] && printf ' ±%s%%' "$2")"
    else
        printf '%s' "$1"
    fi
}
# verdict OVERHEAD PAIRED PAIRED_LOW TARGET: a judged overhead (percent) against TARGET,
# from the paired estimate when there is one (PAIRED not -), else from the medians':
# ok (at most TARGET), OVER (above, and so is the whole confidence interval) or over?
# (above, but the interval reaches TARGET or below, or there is a single run: noise).
verdict() {
    awk -v o="$1" -v pe="$2" -v plo="$3" -v t="$4" 'BEGIN {
        if (pe != "-") o = pe
        if (o + 0 <= t) print "ok"; else if (plo != "-" && plo + 0 > t) print "OVER"; else print "over?" }'
}

# ---- JSON and charts, for the harnesses that write results ------------------------------------
# json_str TEXT: TEXT as a JSON string (tabs and newlines become spaces).
json_str() {
    local s="$1"
    s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\t'/ }"; s="${s//$'\n'/ }"
    printf '"%s"' "$s"
}
# json_num TEXT: TEXT as a JSON number (a leading + dropped), or null when it is not one.
json_num() { if is_num "${1#+}"; then printf '%s' "${1#+}"; else printf null; fi; }
# gp_terminal WIDTH HEIGHT: gnuplot's terminal line: pngcairo where gnuplot has it, else png.
gp_terminal() {
    if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
        printf 'set terminal pngcairo noenhanced size %d,%d font "sans,10"\n' "$1" "$2"
    else
        printf 'set terminal png noenhanced size %d,%d\n' "$1" "$2"
    fi
}
