#!/usr/bin/env bash
# What kernel feedback (the BPF telemetry of bpf/telemetry.bpf.c) costs the runtime: every
# mnsched workload of bench/run-compare.sh run with MN_KERNEL_FEEDBACK=off and with
# MN_KERNEL_FEEDBACK=required, alternated, then bench/bpf_switch_cost: what the programs
# add to one context switch. The project's target: under 2% on every workload.
#
#   bench/run-feedback-cost.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]]
#                              [--build-dir DIR] [--timeout SEC] [--save NAME]
#                              [--switch-n N] [--switch-rounds R] [--no-switch-cost]
#
#   --procs LIST       MN_PROCS values, each in turn; "1 2" or 1,2 (default "1 2")
#   --runs K           runs with feedback off and with it on, per workload and procs (default
#                      5; with --quick, 1), alternated in ABBA order: off on, on off, off on,
#                      ... so that a drift of the machine falls on both alike
#   --quick            the smoke test: every workload once (unless --runs is given) at
#                      bench/run-compare.sh's --quick sizes, and a short bpf_switch_cost; not
#                      a measurement. Writes no results file unless --save is given
#   --only NAMES       comma-separated workloads (default: all), as bench/run-compare.sh's:
#                      skynet pingpong pingpong_hog spawn_many spawn_remote yield_many
#                      chained_spawn chan_mpmc timer_storm (and timer_light) timer_light
#                      mutex blocking; the same sizes (bench/run-compare.sh --help)
#   --build-dir DIR    CMake build dir (default build/release, relative to the repo root):
#                      holds bench/<target> and bench/bpf_switch_cost
#   --timeout SEC      a run taking longer is killed and counted as failed (default 300;
#                      with --quick, 60)
#   --save NAME        results file bench/results/NAME.json (default "feedback-cost"; with
#                      --quick, none); --save none writes nothing
#   --switch-n N, --switch-rounds R
#                      bench/bpf_switch_cost's --n and --rounds (default 200000 and 9; with
#                      --quick, 20000 and 2)
#   --no-switch-cost   skip bench/bpf_switch_cost
#
# Needs root (loading the programs needs CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON, and
# bpf_switch_cost enables BPF run-time stats): without it, and with a build without BPF
# (MN_WITH_BPF=OFF), the script says that feedback cannot be measured here and exits 0,
# so that a CI job without root does not fail.
#
# Building: as bench/run-compare.sh (bench-lib.sh): the targets are brought up to date in
# a configured tree (`cmake --build --preset release --target ...` for the default dir),
# and a dir without CMakeCache.txt is configured first.
#
# Output: each run's line as it finishes (prefixed with off/on), then a table: workload, n
# (or n x rounds), procs, metric, "median ±spread" with feedback off and on (spread = 100
# * (max - min) / 2 / median, in percent: every run lies within it), on/off (the ratio of
# the medians) and its overhead 100 * (on/off - 1) in percent (every metric is
# lower-is-better, so a positive overhead is a cost); "paired": the runs taken in pairs
# (the i-th off and the i-th on ran back to back), the geometric mean of on/off as an
# overhead in percent with its 95% confidence interval (Student's t on the log ratios),
# which the machine's slow drifts disturb less than the medians; and a verdict on the
# judged metrics, from the paired figures (from the medians with a single run):
#   ok       overhead at most 2%
#   OVER     above 2%, and so is the whole confidence interval: a real cost
#   over?    above 2% but the interval reaches 2% or below (or a single run): within the
#            noise; rerun with more --runs
# The lateness percentiles of timer_storm (p50_us p99_us max_us) and timer_light's p99_us
# and max_us spread by tens of percent from run to run and are shown, not judged; neither
# is blocking's raw_ns (getppid called directly: the runtime is not involved). Then the
# bpf_switch_cost table (bench/bpf_switch_cost.cpp says what each column is).
#
# Results (bench/results/NAME.json, unless --save none): a JSON object
#   {"runs", "procs", "quick", "build_dir",
#    "workloads": [{"workload", "metric", "unit", "n", "rounds", "procs", "judged",
#                   "off": {"median", "spread", "min", "max", "runs": [...]}, "on": {...},
#                   "ratio", "overhead_pct", "paired_pct", "paired_ci_pct": [low, high],
#                   "verdict", "error"}, ...],
#    "switch_cost": [{"config", "wall_ns_per_switch", ..., "own_runs_pct"}, ...]}
# (null where there is no value; "error" is set, with a command to reproduce it, when a
# run failed).
#
# Exit status: 0 when every run succeeded, whatever the figures (and without root); 1
# when a program failed (exit status, timeout, malformed line), when the runtime could not
# load the programs as root, or when a build failed; 2 on bad arguments.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-feedback-cost: %s\n' "$*" >&2
    printf 'usage: bench/run-feedback-cost.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]] [--build-dir DIR] [--timeout SEC] [--save NAME] [--switch-n N] [--switch-rounds R] [--no-switch-cost]\n' >&2
    exit 2
}
die() { printf 'run-feedback-cost: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-feedback-cost: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, configure_tree, tree_targets, build_targets, summarize_values, is_num, ratio,
# field, exit_why, fail_run, paired, case_stats, median_cell, verdict
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"

# --- workloads: the same programs and sizes as bench/run-compare.sh (bench/workloads.sh) ----
# shellcheck source=bench/workloads.sh
source "$repo_root/bench/workloads.sh"
# The metrics held to the 2% target; the others are shown only.
declare -A case_judged=(
    [skynet]="ms" [pingpong]="ns_per_roundtrip" [pingpong_hog]="ns_per_op"
    [spawn_many]="ns_per_task" [spawn_remote]="ns_per_task" [yield_many]="ns_per_yield"
    [chained_spawn]="ns_per_spawn" [chan_mpmc]="ns_per_item"
    [timer_storm]="ms" [timer_light]="p50_us" [mutex]="ns_per_op"
    [blocking]="syscall_ns overhead_ns"
)
target_pct=2

# --- arguments ----------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only=""
build_dir="build/release"
timeout_s=""
save=""
switch_n=""
switch_rounds=""
switch_cost=1

parse_opts '
    --procs           =procs_arg
    --runs            =runs
    --quick           quick=1
    --only            =only
    --build-dir       =build_dir
    --timeout         =timeout_s
    --save            =save
    --switch-n        =switch_n
    --switch-rounds   =switch_rounds
    --no-switch-cost  switch_cost=0' "$@"


procs_list_of "$procs_arg"
pos_int_or_default runs --runs 1 5
pos_int_or_default timeout_s --timeout 60 300
pos_int_or_default switch_n --switch-n 20000 200000
pos_int_or_default switch_rounds --switch-rounds 2 9
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
save_or_default none feedback-cost

select_cases "$only"

# --- root -----------------------------------------------------------------------------
if [[ "$(id -u)" -ne 0 ]]; then
    echo "run-feedback-cost: not root: the runtime cannot load its BPF programs (that needs CAP_SYS_ADMIN," \
         "or CAP_BPF with CAP_PERFMON) nor can bench/bpf_switch_cost enable BPF stats, so the cost of kernel" \
         "feedback cannot be measured here; nothing was run. Run as root (sudo bash bench/run-feedback-cost.sh)."
    exit 0
fi

resolve_build_dir
set_case_args
mn_bin() { printf '%s\n' "$build_dir/bench/$1"; }
switch_bin="$build_dir/bench/bpf_switch_cost"

# --- building -------------------------------------------------------------------------
want_switch=$switch_cost
do_build=0
[[ -f "$build_dir/CMakeCache.txt" ]] && do_build=1
for t in "${targets[@]}"; do [[ -x "$(mn_bin "$t")" ]] || do_build=1; done
(( want_switch )) && [[ ! -x "$switch_bin" ]] && do_build=1
if (( do_build )); then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        configure_tree || die "configuring $build_dir failed"
    fi
    known="$(tree_targets)" || die "cannot list the targets of $build_dir (cmake --build $build_dir --target help failed)"
    has_target() { grep -qxF -- "$1" <<<"$known"; }
    build_list=()
    for t in "${targets[@]}"; do
        has_target "$t" || die "$build_dir defines no target '$t' (is it in bench/CMakeLists.txt, and MN_BUILD_BENCH on?)"
        build_list+=("$t")
    done
    if has_target bpf_switch_cost; then
        (( want_switch )) && build_list+=(bpf_switch_cost)
    else
        # bench/CMakeLists.txt defines it only with the BPF programs (MN_WITH_BPF).
        echo "run-feedback-cost: $build_dir was built without the BPF programs (MN_WITH_BPF=OFF, or no kernel" \
             "BTF, clang, bpftool or libbpf when it was configured): there is no kernel feedback whose cost to" \
             "measure; nothing was run."
        exit 0
    fi
    build_targets "${build_list[@]}" || die "building the benchmarks (${build_list[*]}) failed"
fi
for t in "${targets[@]}"; do
    [[ -x "$(mn_bin "$t")" ]] || die "no $(mn_bin "$t") after the build"
done
if (( want_switch )) && [[ ! -x "$switch_bin" ]]; then
    die "no $switch_bin (is $build_dir configured with the BPF programs?)"
fi
build_s=$(( SECONDS - start_s ))

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
outfile="$tmp/out"
errfile="$tmp/err"

# --- can the runtime load its programs? ------------------------------------------------
# A short run of the first case with MN_KERNEL_FEEDBACK=required (its size flag at 1000).
probe_case="${cases[0]}"
probe_flag="${case_args[$probe_case]%% *}"; probe_flag="${probe_flag%%=*}"
probe_cmd=("$(mn_bin "${case_target[$probe_case]}")" "--$probe_flag" 1000)
probe_rc=0
MN_KERNEL_FEEDBACK=required MN_PROCS=1 timeout -k 10 60 "${probe_cmd[@]}" </dev/null >"$outfile" 2>"$errfile" \
    || probe_rc=$?
if (( probe_rc != 0 )); then
    sed 's/^/  | /' "$errfile" >&2
    if grep -q 'built without BPF' "$errfile"; then
        echo "run-feedback-cost: the runtime in $build_dir was built without BPF: there is no kernel feedback" \
             "whose cost to measure; nothing was run."
        exit 0
    fi
    die "MN_KERNEL_FEEDBACK=required MN_PROCS=1 ${probe_cmd[*]} failed (exit status $probe_rc): the runtime cannot load its BPF programs here, as root (its message is above)"
fi

# --- the runs -------------------------------------------------------------------------
results="$tmp/results"   # "case procs side metric value", in run order
: >"$results"
failures=0
declare -A failed=()     # "case procs side" -> why

# run_one CASE PROCS SIDE: SIDE is off or on (MN_KERNEL_FEEDBACK=off / required).
run_one() {
    local mode=off
    [[ "$3" == on ]] && mode=required
    run_case "$1" "$2" "$3" "feedback $3" MN_KERNEL_FEEDBACK="$mode" MN_PROCS="$2"
}

log "cases: ${cases[*]}; procs: ${procs_list[*]}; runs: $runs each with feedback off and on (ABBA)$( ((quick)) && echo '; quick sizes')"
runs_start_s=$SECONDS
for c in "${cases[@]}"; do
    for p in $(procs_of "$c"); do
        log "${case_word[$c]} ${case_args[$c]} procs=$p"
        for ((i = 1; i <= runs; i++)); do
            order=(off on)
            (( i % 2 == 0 )) && order=(on off)
            for side in "${order[@]}"; do
                [[ -n "${failed["$c $p off"]+x}" || -n "${failed["$c $p on"]+x}" ]] && continue
                run_one "$c" "$p" "$side" || true
            done
        done
    done
done

# --- bpf_switch_cost -------------------------------------------------------------------
switch_out="$tmp/switch"
: >"$switch_out"
switch_failed=""
if (( want_switch )); then
    log "bpf_switch_cost --n $switch_n --rounds $switch_rounds"
    rc=0
    timeout -k 10 "$(( timeout_s * 4 ))" "$switch_bin" --n "$switch_n" --rounds "$switch_rounds" </dev/null >"$switch_out" 2>"$errfile" || rc=$?
    sed 's/^/  /' "$errfile" >&2
    if (( rc != 0 )) || ! grep -q '^bpf_switch_cost config=' "$switch_out"; then
        sed 's/^/  | /' "$switch_out"
        switch_failed="exit status $rc; reproduce: $switch_bin --n $switch_n --rounds $switch_rounds"
        log "FAILED: bpf_switch_cost: $switch_failed"
        failures=$((failures + 1))
    fi
fi

runs_s=$(( SECONDS - runs_start_s ))

# --- the table ------------------------------------------------------------------------
cells="$tmp/cells"   # tab-separated, one per (case, metric, procs), for the JSON
: >"$cells"
over_list=()
unsure_list=()
echo
printf 'feedback off (MN_KERNEL_FEEDBACK=off) against on (MN_KERNEL_FEEDBACK=required): median ±spread of %s run(s) each;\n' "$runs"
printf 'spread = 100 * (max - min) / 2 / median, in percent; overhead = 100 * (on/off - 1): every metric is lower-is-better\n'
fmt='%-13s %10s %5s %-16s %17s %17s %7s %9s %22s %-7s\n'
# shellcheck disable=SC2059
printf "$fmt" workload n procs metric off on on/off overhead "paired [95% CI]" verdict
# shellcheck disable=SC2059
printf "$fmt" ------------- ---------- ----- ---------------- ----------------- ----------------- ------- --------- ---------------------- -------
for c in "${cases[@]}"; do
    n_val="${case_args[$c]%% *}"; n_val="${n_val#*=}"
    rounds_val="null"
    [[ " ${case_args[$c]} " == *" rounds="* ]] && { rounds_val="${case_args[$c]##*rounds=}"; rounds_val="${rounds_val%% *}"; }
    for p in $(procs_of "$c"); do
        err=""
        [[ -n "${failed["$c $p off"]+x}" ]] && err="off: ${failed["$c $p off"]}"
        [[ -n "${failed["$c $p on"]+x}" ]] && err="${err:+$err; }on: ${failed["$c $p on"]}"
        for m in ${case_metrics[$c]}; do
            read -r md_off lo_off hi_off sp_off _ list_off <<<"$(case_stats "$c" "$p" off "$m")"
            read -r md_on lo_on hi_on sp_on _ list_on <<<"$(case_stats "$c" "$p" on "$m")"
            judged=0
            [[ " ${case_judged[$c]} " == *" $m "* ]] && judged=1
            r="n/a" ov="-" verdict="-" pe="-" plo="-" phi="-"
            if [[ -z "$err" ]] && is_num "$md_off" && is_num "$md_on"; then
                r="$(awk -v a="$md_on" -v b="$md_off" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "n/a" }')"
                if [[ "$r" != n/a ]]; then
                    ov="$(awk -v r="$r" 'BEGIN { printf "%+.1f", 100 * (r - 1) }')"
                fi
                read -r pe plo phi <<<"$(paired "$list_off" "$list_on")"
                if (( judged )) && [[ "$r" != n/a ]]; then
                    # The paired estimate when there are two pairs or more, else the medians'.
                    verdict="$(verdict "$ov" "$pe" "$plo" "$target_pct")"
                    if [[ "$pe" == - ]]; then
                        [[ "$verdict" == "over?" ]] && unsure_list+=("$c procs=$p $m: medians ${ov}% (one run each)")
                    else
                        [[ "$verdict" == OVER ]] && over_list+=("$c procs=$p $m: ${pe}% [$plo, $phi]")
                        [[ "$verdict" == "over?" ]] && unsure_list+=("$c procs=$p $m: ${pe}% [$plo, $phi] (medians ${ov}%)")
                    fi
                fi
            fi
            (( judged )) || verdict="(shown)"
            [[ -n "$err" ]] && verdict="FAIL"
            # shellcheck disable=SC2059
            printf "$fmt" "$c" "$(size_label "$c")" "$p" "$m" "$(median_cell "$md_off" "$sp_off")" "$(median_cell "$md_on" "$sp_on")" \
                "$r" "$( [[ "$ov" != - ]] && printf '%s%%' "$ov" || printf -- - )" \
                "$( [[ "$pe" != - ]] && printf '%s%% [%s, %s]' "$pe" "$plo" "$phi" || printf -- - )" "$verdict"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "$c" "$m" "$(unit "$m")" "$n_val" "$rounds_val" "$p" "$judged" \
                "$md_off" "$sp_off" "$lo_off" "$hi_off" "$list_off" \
                "$md_on" "$sp_on" "$lo_on" "$hi_on" "$list_on" \
                "$r" "$ov" "$verdict" "${err//$'\t'/ }" "$pe" "$plo" "$phi" >>"$cells"
        done
    done
done
echo
if [[ ${#over_list[@]} -gt 0 ]]; then
    printf 'target (overhead under %s%% on every judged metric): NOT met\n' "$target_pct"
elif [[ ${#unsure_list[@]} -gt 0 ]]; then
    printf 'target (overhead under %s%% on every judged metric): not shown: %d metric(s) above it within the noise\n' \
        "$target_pct" "${#unsure_list[@]}"
else
    printf 'target (overhead under %s%% on every judged metric): met%s\n' "$target_pct" \
        "$( ((failures > 0)) && echo ' by the cells that did not fail (FAIL above; the failures are listed below)' )"
fi
for x in ${over_list[@]+"${over_list[@]}"}; do printf '  over, beyond the noise: %s\n' "$x"; done
for x in ${unsure_list[@]+"${unsure_list[@]}"}; do printf '  over, within the noise: %s\n' "$x"; done
if (( want_switch )) && [[ -z "$switch_failed" ]]; then
    echo
    echo "what the programs add to one context switch (bench/bpf_switch_cost --n $switch_n --rounds $switch_rounds):"
    grep -v '^bpf_switch_cost config=' "$switch_out" | sed '/^$/d'
fi
echo
printf 'mnsched: %s\n' "$build_dir/bench"

# --- the JSON ---------------------------------------------------------------------------
write_json() {
    {
        printf '{"runs": %s, "procs": [%s], "quick": %s, "build_dir": "%s",\n "workloads": [' \
            "$runs" "$(procs_json=("${procs_list[@]}"); IFS=,; echo "${procs_json[*]}")" \
            "$( ((quick)) && echo true || echo false )" "$build_dir"
        awk -F '\t' '
            function q(s) {
                gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s)
                return "\"" s "\""
            }
            function num(s) { return (s ~ /^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) ? (s ~ /^\+/ ? substr(s, 2) : s) : "null" }
            function side(md, sp, lo, hi, list) {
                gsub(/,/, ", ", list)
                return sprintf("{\"median\": %s, \"spread\": %s, \"min\": %s, \"max\": %s, \"runs\": [%s]}",
                               num(md), num(sp), num(lo), num(hi), list)
            }
            {
                printf "%s\n  {\"workload\": %s, \"metric\": %s, \"unit\": %s, \"n\": %s, \"rounds\": %s, \"procs\": %s, \"judged\": %s, ",
                    (NR > 1 ? "," : ""), q($1), q($2), q($3), num($4), num($5), num($6), ($7 == 1 ? "true" : "false")
                printf "\"off\": %s, \"on\": %s, ", side($8, $9, $10, $11, $12), side($13, $14, $15, $16, $17)
                printf "\"ratio\": %s, \"overhead_pct\": %s, \"paired_pct\": %s, \"paired_ci_pct\": %s, \"verdict\": %s, \"error\": %s}",
                    num($18), num($19), num($22), (num($23) == "null" ? "null" : "[" num($23) ", " num($24) "]"),
                    ($20 == "-" || $20 == "(shown)" ? "null" : q($20)), ($21 == "" ? "null" : q($21))
            }' "$cells"
        printf '],\n "switch_cost": ['
        awk '
            /^bpf_switch_cost config=/ {
                printf "%s\n  {", (k++ ? "," : "")
                first = 1
                for (i = 2; i <= NF; i++) {
                    split($i, kv, "=")
                    v = kv[2]
                    if (kv[1] == "config") v = "\"" v "\""
                    else if (v !~ /^-?[0-9]+(\.[0-9]+)?$/) v = "null"
                    printf "%s\"%s\": %s", (first ? "" : ", "), kv[1], v
                    first = 0
                }
                printf "}"
            }' "$switch_out"
        printf ']}\n'
    } >"$1.tmp" && mv "$1.tmp" "$1"
}
if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    write_json "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi

printf 'time: %d s in all (building %d s, runs and bpf_switch_cost %d s)\n' "$(( SECONDS - start_s ))" "$build_s" "$runs_s"
if (( failures > 0 )); then
    echo
    echo "$failures failed run(s):"
    for k in "${!failed[@]}"; do printf '  %s: %s\n' "$k" "${failed[$k]}"; done | sort
    [[ -n "$switch_failed" ]] && printf '  bpf_switch_cost: %s\n' "$switch_failed"
    exit 1
fi
exit 0
