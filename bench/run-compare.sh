#!/usr/bin/env bash
# The project's benchmark command: mnsched against Go 1.24 and Boost.Fiber on every
# workload, side by side.
#
#   bench/run-compare.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]]
#                        [--systems LIST] [--build-dir DIR] [--timeout SEC] [--save NAME]
#
#   --procs LIST    worker threads, each value in turn: MN_PROCS=P for mnsched and
#                   Boost.Fiber, GOMAXPROCS=P for Go; "1 2" or 1,2 (default "1 2")
#   --runs K        runs of each system per workload and procs, alternated run by run
#                   mn, go, boost, mn, go, boost, ... (default 5; with --quick, 1)
#   --quick         every workload once (unless --runs is given) at small sizes: a
#                   smoke test of the harness and the programs, not a measurement; all
#                   three systems at procs 1 and 2 take under a minute once built.
#                   Writes bench/results/quick.json, never latest.json
#   --only NAMES    comma-separated workloads (default: all, in this order); sizes are
#                   full (quick):
#                     skynet         10-ary tree of 1,000,000 (100,000) leaf tasks, ms
#                     pingpong       2 tasks, 2 unbuffered channels, 1,000,000 (100,000)
#                                    round trips, ns_per_roundtrip
#                     pingpong_hog   Go's BenchmarkPingPongHog: 2 tasks ping-pong
#                                    --n 100,000 (10,000) times beside a task spinning on
#                                    a non-blocking select, ns_per_op; procs=1 only (Go's
#                                    benchmark is defined at GOMAXPROCS=1); no boost
#                     spawn_many     spawn --n 10,000 empty tasks and wait for them,
#                                    --rounds 100 (10) times, ns_per_task
#                     spawn_remote   the same, spawned from a thread outside the runtime
#                                    (Go: a goroutine locked to its thread), ns_per_task;
#                                    no boost
#                     yield_many     200 tasks each yield --n 1,000 times, --rounds 20 (2)
#                                    times, ns_per_yield
#                     chained_spawn  a chain of --n 1,000 tasks, each spawning the next,
#                                    --rounds 1,000 (100) times, ns_per_spawn
#                     chan_mpmc      4 producers, 4 consumers, channel of capacity 1024,
#                                    1,000,000 (100,000) items, ns_per_item
#                     timer_storm    100,000 (10,000) tasks sleep 0-10 ms each: ms and
#                                    lateness p50_us p99_us max_us; then timer_light
#                     timer_light    the same with 1,000 tasks (light load: the 1 ms
#                                    wake-up target), lateness only
#                     mutex          8 tasks, one mutex, 1,000,000 (100,000) critical
#                                    sections, ns_per_op
#                     blocking       entering and leaving a blocking call, 10,000,000
#                                    (1,000,000) times per loop: raw_ns (getppid called
#                                    directly; Go: syscall.RawSyscall), syscall_ns
#                                    (getppid inside mn::blocking; Go: syscall.Syscall),
#                                    overhead_ns (mn::blocking with an empty body; Go's
#                                    is syscall_ns - raw_ns of the same run); no boost
#   --systems LIST  which systems to run, comma-separated: mn (mnsched), go, boost
#                   (Boost.Fiber) (default mn,go,boost). Boost runs only the workloads
#                   that have a boost binary; when none was built (Boost.Fiber is not
#                   installed), that is said once and the others run without it
#   --build-dir DIR CMake build dir (default build/release, relative to the repo root);
#                   holds bench/<target> (mnsched), gets bench/<target>-go (Go) and
#                   holds bench/boost/boost_<target> (Boost.Fiber)
#   --timeout SEC   a run taking longer is killed and counted as failed (default 300;
#                   with --quick, 60)
#   --save NAME     results file name: bench/results/NAME.json and the charts
#                   bench/results/NAME-ratios-procsP.png (default "latest", whose charts
#                   are bench/results/ratios-procsP.png; with --quick, "quick");
#                   --save none writes nothing
#
# Building: the mnsched targets (skynet pingpong pingpong_hog spawn_many spawn_remote
# yield_many chained_spawn chan_mpmc timer_storm mutex_contention blocking) and the
# Boost.Fiber targets boost_<target> that the build tree defines are built with `cmake
# --preset release` + `cmake --build --preset release --target ...` for the default
# build dir (any other dir is configured as a Release Ninja tree if it has no
# CMakeCache.txt); in a configured tree they are brought up to date. When the tree
# defines no boost_* target it is re-configured once, to find a Boost.Fiber installed
# since (Debian: libboost-fiber-dev). Go 1.24 comes from tools/go-toolchain.sh and builds
# bench/go/<dir> offline into <build-dir>/bench/<target>-go; when only the fallback
# (Debian 12's golang-go) can be had, the harness warns and compares against it.
#
# Output: each run's line as it finishes, then a table: workload, n (or n x rounds),
# procs, metric, one column per system holding "median ±spread", and mnsched's ratios
# "go/mn" (Go's median / mnsched's) and "boost/mn" (Boost.Fiber's / mnsched's). The
# spread is the relative half-range of the runs, 100 * (max - min) / 2 / median, in
# percent: every run lies within median ± spread. Every metric is lower-is-better
# (times, and lateness for *_us), so a ratio above 1 means mnsched did better.
#
# Results (bench/results/, unless --save none):
#   NAME.json   a JSON list with one object per workload, metric, procs and system:
#               {"workload", "metric", "unit", "n", "rounds", "procs", "system",
#                "median", "spread", "min", "max", "runs", "error"}
#               (system is "mnsched", "go" or "boost"; runs lists every run's value in
#               order; spread is the percentage above; rounds and error are null when
#               there are none; a failed cell has "error" set and "median" null)
#   ratio charts, one PNG per procs value: bars of go/mn and boost/mn per workload and
#               metric on a log scale, above 1 where mnsched is faster. Drawn with
#               gnuplot (Debian: gnuplot-nox); without gnuplot they are skipped with a
#               note.
#
# Exit status: 0 when every run succeeded, whatever the timings; 1 when a program failed
# (exit status, timeout, malformed line; reported with a command to reproduce it, and
# that system's remaining runs of that workload and procs are skipped), when a build or
# the Go toolchain failed, or when gnuplot failed; 2 on bad arguments.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-compare: %s\n' "$*" >&2
    printf 'usage: bench/run-compare.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]] [--systems LIST] [--build-dir DIR] [--timeout SEC] [--save NAME]\n' >&2
    exit 2
}
die() { printf 'run-compare: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-compare: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, configure_tree, tree_targets, build_targets, go_setup, go_build_cases,
# go_bin, summarize_values, ratio
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"

# --- workloads ------------------------------------------------------------------
# all_workloads, all_cases and the case_* tables the drivers share (targets, sizes,
# metrics, Go programs); here, what only this comparison needs: whether Boost.Fiber has
# each case.
# shellcheck source=bench/workloads.sh
source "$repo_root/bench/workloads.sh"
declare -A case_boost=(
    [skynet]=1 [pingpong]=1 [pingpong_hog]=0 [spawn_many]=1 [spawn_remote]=0
    [yield_many]=1 [chained_spawn]=1 [chan_mpmc]=1 [timer_storm]=1 [timer_light]=1
    [mutex]=1 [blocking]=0
)

# --- arguments ------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only=""
build_dir="build/release"
systems_arg="mn,go,boost"
timeout_s=""
save=""

parse_opts '
    --procs      =procs_arg
    --runs       =runs
    --quick      quick=1
    --only       =only
    --build-dir  =build_dir
    --systems    =systems_arg
    --timeout    =timeout_s
    --save       =save' "$@"


# split_list VAR STRING: STRING's comma- or blank-separated words into array VAR.

procs_list_of "$procs_arg"

pos_int_or_default runs --runs 1 5
pos_int_or_default timeout_s --timeout 60 300
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
save_or_default quick latest

run_mn=0 run_go=0 run_boost=0
split_list systems_words "$systems_arg"
for s in ${systems_words[@]+"${systems_words[@]}"}; do
    case "$s" in
        mn|mnsched)      run_mn=1 ;;
        go)              run_go=1 ;;
        boost|boost.fiber|fiber) run_boost=1 ;;
        *)               bad_arg "--systems: unknown system '$s' (want a list of mn, go, boost)" ;;
    esac
done
(( run_mn || run_go || run_boost )) || bad_arg "--systems: empty list"

select_cases "$only"

resolve_build_dir
# case_args and the distinct C++ targets of the chosen cases; and those Boost.Fiber has.
set_case_args
boost_targets=()
for c in "${cases[@]}"; do
    t="${case_target[$c]}"
    if (( case_boost[$c] )) && [[ " ${boost_targets[*]} " != *" boost_$t "* ]]; then
        boost_targets+=("boost_$t")
    fi
done

# --- (a) building the C++ sides: mnsched and Boost.Fiber ------------------------------
# (configure_tree, tree_targets and build_targets are in bench-lib.sh; resolve_build_dir set
# the preset_dir they read.)

# boost_bin TARGET / mn_bin TARGET (and bench-lib.sh's go_bin TARGET): where each
# system's program is.
mn_bin()    { printf '%s\n' "$build_dir/bench/$1"; }
boost_bin() { printf '%s\n' "$build_dir/bench/boost/boost_$1"; }

boost_note=""   # why Boost.Fiber does not run at all, if it does not
if (( run_mn || run_boost )); then
    do_build=0
    [[ -f "$build_dir/CMakeCache.txt" ]] && do_build=1
    if (( run_mn )); then
        for t in "${targets[@]}"; do [[ -x "$(mn_bin "$t")" ]] || do_build=1; done
    fi
    if (( run_boost && !run_mn && ${#boost_targets[@]} > 0 )); then
        any=0
        for t in "${boost_targets[@]}"; do [[ -x "$(boost_bin "${t#boost_}")" ]] && any=1; done
        (( any )) || do_build=1
    fi
    # Present in a CMake tree: bring up to date (a no-op when it is). Missing: configure
    # and build. Bare binaries without a CMake tree are used as they are.
    if (( do_build )); then
        configured=0
        if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
            configure_tree || die "configuring $build_dir failed"
            configured=1
        fi
        known="$(tree_targets)" || die "cannot list the targets of $build_dir (cmake --build $build_dir --target help failed)"
        has_target() { grep -qxF -- "$1" <<<"$known"; }
        want_boost=0
        (( run_boost && ${#boost_targets[@]} > 0 )) && want_boost=1
        any_boost_target() {
            local t
            for t in "${boost_targets[@]}"; do has_target "$t" && return 0; done
            return 1
        }
        if (( want_boost && !configured )) && ! any_boost_target; then
            # Perhaps Boost.Fiber was installed after this tree was configured.
            log "no boost_* targets in $build_dir: re-configuring once to look for Boost.Fiber"
            configure_tree || die "re-configuring $build_dir failed"
            known="$(tree_targets)" || die "cannot list the targets of $build_dir"
        fi
        build_list=()
        if (( run_mn )); then
            for t in "${targets[@]}"; do
                has_target "$t" || die "$build_dir defines no target '$t' (is it in bench/CMakeLists.txt, and MN_BUILD_BENCH on?)"
                build_list+=("$t")
            done
        fi
        if (( want_boost )); then
            for t in "${boost_targets[@]}"; do has_target "$t" && build_list+=("$t"); done
        fi
        if [[ ${#build_list[@]} -gt 0 ]]; then
            build_targets "${build_list[@]}" || die "building the benchmarks (${build_list[*]}) failed"
        fi
    fi
    if (( run_mn )); then
        for t in "${targets[@]}"; do
            [[ -x "$(mn_bin "$t")" ]] || die "no $(mn_bin "$t") after the build"
        done
    fi
fi

# Which cases Boost.Fiber runs: those with a boost binary.
declare -A boost_has=()
if (( run_boost )); then
    missing_boost=()
    for c in "${cases[@]}"; do
        (( case_boost[$c] )) || continue
        if [[ -x "$(boost_bin "${case_target[$c]}")" ]]; then
            boost_has[$c]=1
        else
            [[ " ${missing_boost[*]} " == *" boost_${case_target[$c]} "* ]] \
                || missing_boost+=("boost_${case_target[$c]}")
        fi
    done
    if [[ ${#boost_has[@]} -eq 0 && ${#boost_targets[@]} -gt 0 ]]; then
        boost_note="no Boost.Fiber programs (no $build_dir/bench/boost/boost_* after the build: Boost.Fiber is not installed, Debian libboost-fiber-dev, or CMake found it not, or the tree has no bench/boost yet): running without Boost.Fiber"
        log "$boost_note"
    elif [[ ${#missing_boost[@]} -gt 0 ]]; then
        log "note: no Boost.Fiber program for ${missing_boost[*]} (in $build_dir/bench/boost): those run without boost"
    fi
fi

# --- (b) the Go side ----------------------------------------------------------------
go_version="(not run)"
go_cmd=""
if (( run_go )); then
    go_setup "The comparison needs Go 1.24; run with --systems mn,boost to leave Go out"
    go_build_cases
    log "go: $go_version"
fi
build_s=$(( SECONDS - start_s ))

# --- (c) the runs, alternated ---------------------------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results"   # lines "case procs system metric value", in run order
outfile="$tmp/out"
: >"$results"
failures=0
declare -A failed=()   # "case procs system" -> why

# systems_of CASE: the systems that run CASE, in the order they alternate.
systems_of() {
    (( run_mn )) && echo mnsched
    (( run_go )) && echo go
    (( run_boost )) && [[ -n "${boost_has[$1]+x}" ]] && echo boost
    return 0
}

# run_one CASE PROCS SYSTEM: run once, print the line, record its metrics.
run_one() {
    local c="$1" procs="$2" system="$3"
    local word="${case_word[$c]}" t="${case_target[$c]}"
    local bin repro rc=0 line v m why
    local -a cmd
    case "$system" in
        mnsched) bin="$(mn_bin "$t")" ;;
        go)      bin="$(go_bin "$t")" ;;
        boost)   bin="$(boost_bin "$t")" ;;
    esac
    case_cmd "$c" "$bin"
    repro="MN_PROCS=$procs GOMAXPROCS=$procs ${cmd[*]}"
    MN_PROCS="$procs" GOMAXPROCS="$procs" timeout -k 10 "$timeout_s" "${cmd[@]}" </dev/null >"$outfile" || rc=$?
    line="$(grep -E "^$word system=$system " "$outfile" | tail -n 1 || true)"
    why="$(exit_why "$rc")"
    [[ -z "$why" && -z "$line" ]] && why="printed no '$word system=$system ...' line"
    [[ -z "$why" ]] && why="$(check_line "$c" "$line")"
    if [[ -z "$why" ]]; then
        if [[ "$c" == skynet ]] && { [[ "$system" != boost ]] || has_field "$line" sum; }; then
            local want
            want="$(awk -v n="$(field "$line" leaves)" 'BEGIN { printf "%.0f", n * (n - 1) / 2 }')"
            [[ "$(field "$line" sum)" == "$want" ]] || why="sum is not $want in: $line"
        fi
    fi
    if [[ -n "$why" ]]; then
        [[ -s "$outfile" ]] && sed 's/^/  | /' "$outfile"
        log "FAILED: $system $c procs=$procs: $why"
        log "  reproduce: $repro"
        failed["$c $procs $system"]="$why; reproduce: $repro"
        failures=$((failures + 1))
        return 1
    fi
    printf '%s\n' "$line"
    v="$(field "$line" procs)"
    [[ "$v" == "$procs" ]] || log "warning: $system ran with procs=$v, not $procs"
    for m in ${case_metrics[$c]}; do
        printf '%s %s %s %s %s\n' "$c" "$procs" "$system" "$m" "$(field "$line" "$m")" >>"$results"
    done
}

any_boost=0
[[ ${#boost_has[@]} -gt 0 ]] && any_boost=1
sys_names=()
(( run_mn )) && sys_names+=(mnsched)
(( run_go )) && sys_names+=(go)
(( any_boost )) && sys_names+=(boost)
[[ ${#sys_names[@]} -gt 0 ]] || die "nothing to run: ${boost_note:-none of the chosen workloads has a Boost.Fiber program}"
log "cases: ${cases[*]}; procs: ${procs_list[*]}; runs: $runs; systems: ${sys_names[*]}$( ((quick)) && echo '; quick sizes')"
runs_start_s=$SECONDS
for c in "${cases[@]}"; do
    mapfile -t csys < <(systems_of "$c")
    for p in $(procs_of "$c"); do
        log "${case_word[$c]} ${case_args[$c]} procs=$p"
        for ((i = 1; i <= runs; i++)); do
            for s in "${csys[@]}"; do
                [[ -n "${failed["$c $p $s"]+x}" ]] && continue
                run_one "$c" "$p" "$s" || true
            done
        done
    done
done
runs_s=$(( SECONDS - runs_start_s ))

# --- (d) the table, the JSON and the charts ---------------------------------------------
# (case_stats CASE PROCS SYSTEM METRIC, "median min max spread count v1,v2,...", and unit
# METRIC are in bench-lib.sh.)
# (is_num and ratio OTHER MN, OTHER / MN, are in bench-lib.sh.)

cells="$tmp/cells"     # one line per (case, metric, procs, system), tab-separated, for the JSON
ratios="$tmp/ratios"   # "procs<TAB>label<TAB>go/mn<TAB>boost/mn", for the charts
: >"$cells"
: >"$ratios"

echo
printf 'median ±spread of %s run(s) per cell; spread = 100 * (max - min) / 2 / median, in percent\n' "$runs"
if (( run_mn && (run_go || any_boost) )); then
    printf 'ratios: %s;\n' \
        "$( ((run_go)) && printf 'go/mn = Go median / mnsched median' )$( ((run_go && any_boost)) && printf ', ' )$( ((any_boost)) && printf 'boost/mn = Boost.Fiber median / mnsched median' )"
    printf 'every metric is lower-is-better, so a ratio above 1 means mnsched did better\n'
fi
hdr=("workload" "n" "procs" "metric")
sep=("-------------" "----------" "-----" "----------------")
fmt='%-13s %10s %5s %-16s'
for s in "${sys_names[@]}"; do hdr+=("$s"); sep+=("-----------------"); fmt+=' %17s'; done
(( run_mn && run_go )) && { hdr+=("go/mn"); sep+=("-------"); fmt+=' %7s'; }
(( run_mn && any_boost )) && { hdr+=("boost/mn"); sep+=("--------"); fmt+=' %8s'; }
fmt+='\n'
# shellcheck disable=SC2059
printf "$fmt" "${hdr[@]}"
# shellcheck disable=SC2059
printf "$fmt" "${sep[@]}"
light_notes=()
for c in "${cases[@]}"; do
    mapfile -t csys < <(systems_of "$c")
    label="$c"
    n_val="${case_args[$c]%% *}"; n_val="${n_val#*=}"
    rounds_val="null"
    [[ " ${case_args[$c]} " == *" rounds="* ]] && { rounds_val="${case_args[$c]##*rounds=}"; rounds_val="${rounds_val%% *}"; }
    for p in $(procs_of "$c"); do
        for m in ${case_metrics[$c]}; do
            declare -A med=()
            row=("$label" "$(size_label "$c")" "$p" "$m")
            for s in "${csys[@]}"; do
                read -r md lo hi sp cnt list <<<"$(case_stats "$c" "$p" "$s" "$m")"
                err=""
                [[ -n "${failed["$c $p $s"]+x}" ]] && err="${failed["$c $p $s"]}"
                med[$s]="$md"
                [[ -n "$err" ]] && med[$s]="FAIL"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                    "$label" "$m" "$(unit "$m")" "$n_val" "$rounds_val" "$p" "$s" \
                    "$md" "$sp" "$lo" "$hi" "$list" "${err//$'\t'/ }" "$cnt" >>"$cells"
            done
            for s in "${sys_names[@]}"; do
                v="${med[$s]:--}"
                if is_num "$v"; then
                    read -r md lo hi sp cnt list <<<"$(case_stats "$c" "$p" "$s" "$m")"
                    v="$(printf '%.1f' "$md")"
                    [[ "$sp" != - ]] && v+=" ±$sp%"
                fi
                row+=("$v")
            done
            r_go="n/a" r_boost="n/a"
            (( run_mn && run_go )) && { r_go="$(ratio "${med[go]:--}" "${med[mnsched]:--}")"; row+=("$r_go"); }
            if (( run_mn && any_boost )); then
                r_boost="-"
                [[ -n "${boost_has[$c]+x}" ]] && r_boost="$(ratio "${med[boost]:--}" "${med[mnsched]:--}")"
                row+=("$r_boost")
            fi
            # shellcheck disable=SC2059
            printf "$fmt" "${row[@]}"
            if (( run_mn )); then
                [[ "$r_go" =~ ^[0-9] ]] || r_go=NaN
                [[ "$r_boost" =~ ^[0-9] ]] || r_boost=NaN
                printf '%s\t%s %s\t%s\t%s\n' "$p" "$label" "$m" "$r_go" "$r_boost" >>"$ratios"
            fi
            if [[ "$c" == timer_light && "$m" == p99_us ]]; then
                for s in "${csys[@]}"; do
                    v="${med[$s]:--}"
                    verdict="$(awk -v v="$v" 'BEGIN {
                        if (v !~ /^-?[0-9.]+$/) print "no data (" v ")"
                        else printf "%.1f us: %s\n", v, (v + 0 <= 1000) ? "met" : "NOT met" }')"
                    light_notes+=("$(printf 'procs=%s %-7s p99 lateness %s' "$p" "$s" "$verdict")")
                done
            fi
            unset med
        done
    done
done
if [[ ${#light_notes[@]} -gt 0 ]]; then
    echo
    echo "light load (timer_light, ${case_args[timer_light]#n=} sleeping tasks): wakes within 1 ms at p99?"
    printf '  %s\n' "${light_notes[@]}"
fi
echo
printf 'mnsched: %s\n' "$( ((run_mn)) && echo "$build_dir/bench" || echo "(not run)")"
printf 'go: %s%s\n' "$go_version" "${go_cmd:+ ($go_cmd)}"
if (( run_boost )); then
    if (( any_boost )); then
        printf 'boost: Boost.Fiber, %s/bench/boost\n' "$build_dir"
    else
        printf 'boost: not run: %s\n' "${boost_note:-no chosen workload has a Boost.Fiber program}"
    fi
fi

# write_json FILE: the cells as a JSON list.
write_json() {
    awk -F '\t' '
        function q(s) {
            gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s)
            return "\"" s "\""
        }
        function num(s) { return (s ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) ? s : "null" }
        BEGIN { printf "[" }
        {
            printf "%s\n  {\"workload\": %s, \"metric\": %s, \"unit\": %s, \"n\": %s, \"rounds\": %s, \"procs\": %s, \"system\": %s, ", \
                (NR > 1 ? "," : ""), q($1), q($2), q($3), num($4), num($5), num($6), q($7)
            runs = ($12 == "") ? "" : $12
            gsub(/,/, ", ", runs)
            printf "\"median\": %s, \"spread\": %s, \"min\": %s, \"max\": %s, \"runs\": [%s], \"error\": %s}", \
                ($13 == "" ? num($8) : "null"), num($9), num($10), num($11), runs, ($13 == "" ? "null" : q($13))
        }
        END { printf "%s]\n", (NR > 0 ? "\n" : "") }
    ' "$cells" >"$1.tmp" && mv "$1.tmp" "$1"
}

# draw_chart PROCS FILE: a bar chart of mnsched's speedups at PROCS.
draw_chart() {
    local p="$1" out="$2" data="$tmp/chart-$1.tsv" script="$tmp/chart-$1.gp"
    awk -F '\t' -v p="$p" '$1 == p { printf "%d\t%s\t%s\t%s\n", n++, $2, $3, $4 }' "$ratios" >"$data"
    local rows has_go has_boost lo hi
    rows="$(wc -l <"$data")"
    has_go="$(awk -F '\t' '$3 != "NaN"' "$data" | wc -l)"
    has_boost="$(awk -F '\t' '$4 != "NaN"' "$data" | wc -l)"
    (( rows > 0 && has_go + has_boost > 0 )) || return 2
    # The y range: a log scale around 1 that holds every bar and its label.
    read -r lo hi < <(awk -F '\t' '
        BEGIN { lo = 0.5; hi = 2 }
        { for (i = 3; i <= 4; i++) if ($i != "NaN" && $i + 0 > 0) { if ($i / 1.6 < lo) lo = $i / 1.6; if ($i * 1.6 > hi) hi = $i * 1.6 } }
        END { print lo, hi }' "$data")
    local width=$(( 300 + rows * 64 ))
    (( width < 800 )) && width=800
    local tics
    tics="$(awk -F '\t' '{ gsub(/"/, "", $2); printf "%s\"%s\" %d", (NR > 1 ? ", " : ""), $2, $1 }' "$data")"
    local what="Go"
    (( has_boost > 0 && has_go > 0 )) && what="Go and Boost.Fiber"
    (( has_boost > 0 && has_go == 0 )) && what="Boost.Fiber"
    {
        if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
            printf 'set terminal pngcairo noenhanced size %d,640 font "sans,10"\n' "$width"
        else
            printf 'set terminal png noenhanced size %d,640\n' "$width"
        fi
        printf 'set output "%s"\n' "$out"
        printf 'set datafile separator "\\t"\n'
        printf 'set title "mnsched speedup over %s, procs=%s\\n(median of %s run(s)%s; above 1: mnsched faster)"\n' \
            "$what" "$p" "$runs" "$( ((quick)) && echo ', quick sizes: not a measurement')"
        printf 'set ylabel "other system median / mnsched median (log scale)"\n'
        printf 'set logscale y\nset yrange [%s:%s]\n' "$lo" "$hi"
        printf 'set ytics (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)\nset format y "%%gx"\n'
        printf 'set xrange [-0.7:%s]\n' "$(( rows ))-0.3"
        printf 'set xtics (%s) rotate by 40 right nomirror font ",9"\n' "$tics"
        printf 'set grid ytics\nset key at screen 0.5, screen 0.015 center bottom horizontal\nset style fill solid 0.85 border -1\n'
        printf 'set bmargin 10\nset lmargin 14\nset rmargin 4\n'
        printf 'set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 1.5 lc rgb "black"\n'
        printf 'lo(r) = r < 1 ? r : 1\nhi(r) = r < 1 ? 1 : r\n'
        local off_go=0 off_boost=0 half=0.35
        if (( has_go > 0 && has_boost > 0 )); then off_go=-0.19 off_boost=0.19 half=0.17; fi
        local plots=()
        if (( has_go > 0 )); then
            plots+=("'$data' using (\$1+($off_go)):3:(\$1+($off_go)-$half):(\$1+($off_go)+$half):(lo(\$3)):(hi(\$3)) with boxxyerror lc rgb '#3a7dc9' title 'vs Go'")
            plots+=("'' using (\$1+($off_go)):(\$3 < 1 ? \$3/1.12 : \$3*1.08):(sprintf(\$3 < 10 ? '%.2f' : '%.0f', \$3)) with labels font ',7' notitle")
        fi
        if (( has_boost > 0 )); then
            plots+=("'$data' using (\$1+($off_boost)):4:(\$1+($off_boost)-$half):(\$1+($off_boost)+$half):(lo(\$4)):(hi(\$4)) with boxxyerror lc rgb '#e08a2c' title 'vs Boost.Fiber'")
            plots+=("'' using (\$1+($off_boost)):(\$4 < 1 ? \$4/1.12 : \$4*1.08):(sprintf(\$4 < 10 ? '%.2f' : '%.0f', \$4)) with labels font ',7' notitle")
        fi
        local IFS=,
        printf 'plot %s\n' "${plots[*]}"
    } >"$script"
    gnuplot "$script" 2>"$tmp/gnuplot.err" || { sed 's/^/  | /' "$tmp/gnuplot.err" >&2; return 1; }
    # gnuplot reports some errors without failing.
    if grep -qiE 'error|warning' "$tmp/gnuplot.err"; then sed 's/^/  | /' "$tmp/gnuplot.err" >&2; fi
    [[ -s "$out" ]]
}

chart_failed=0
if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    write_json "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
    prefix="$save-"
    [[ "$save" == latest ]] && prefix=""
    if [[ ! -s "$ratios" ]]; then
        printf 'charts: none (no ratios: mnsched did not run with another system)\n'
    elif ! command -v gnuplot >/dev/null 2>&1; then
        printf 'charts: none: gnuplot is not installed (Debian: gnuplot-nox)\n'
    else
        for p in "${procs_list[@]}"; do
            png="$results_dir/${prefix}ratios-procs$p.png"
            rc=0
            draw_chart "$p" "$png" || rc=$?
            if (( rc == 0 )); then
                printf 'chart: %s\n' "${png#"$repo_root"/}"
            elif (( rc == 2 )); then
                printf 'chart: none for procs=%s (no ratio to draw)\n' "$p"
            else
                log "FAILED: gnuplot could not draw $png"
                chart_failed=1
            fi
        done
    fi
fi

time_and_failures "$build_s" "$runs_s" || exit 1
(( chart_failed == 0 )) || exit 1
exit 0
