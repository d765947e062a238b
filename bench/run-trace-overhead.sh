#!/usr/bin/env bash
# What execution tracing (MN_TRACE, docs/tracing.md) costs the runtime: workloads of
# bench/run-compare.sh run with tracing off, on for the whole run (MN_TRACE to a file) and
# on in ring mode (MN_TRACE_RING), alternated. The project's target: under 15% with tracing
# on, on every workload.
#
#   bench/run-trace-overhead.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]]
#                               [--ring-mib N] [--build-dir DIR] [--timeout SEC]
#                               [--save NAME] [--trace-dir DIR] [--wait-idle]
#
#   --procs LIST     MN_PROCS values, each in turn; "1 2" or 1,2 (default "1 2")
#   --runs K         runs of each side (off, whole, ring) per workload and procs (default 5;
#                    with --quick, 1), in rotating order: off whole ring, whole ring off,
#                    ring off whole, ... so that a drift of the machine falls on all alike
#   --quick          the smoke test: each workload once (unless --runs is given) at
#                    bench/run-compare.sh's --quick sizes, and every trace is read back with
#                    `mntrace summarize` (a trace it cannot read fails the run); not a
#                    measurement. Writes no results file unless --save is given
#   --only NAMES     comma-separated workloads (default: skynet pingpong spawn_many
#                    yield_many chan_mpmc mutex); any of bench/run-compare.sh's, at its sizes
#   --ring-mib N     MN_TRACE_RING for the ring side, MiB (default 8)
#   --build-dir DIR  CMake build dir (default build/release, relative to the repo root):
#                    holds bench/<target> and tools/mntrace
#   --timeout SEC    a run taking longer is killed and counted as failed (default 300; with
#                    --quick, 60)
#   --save NAME      results file bench/results/NAME.json (default "trace-overhead"; with
#                    --quick, none); --save none writes nothing
#   --trace-dir DIR  where the traces are written, each removed after its run (default
#                    $TMPDIR or /tmp): a whole-run trace of a full-size workload takes
#                    hundreds of MB, and writing it is part of what is measured
#   --wait-idle      before each run, wait while a qemu-system-x86_64 runs (this project's
#                    VM tests and benchmarks share the machine's CPUs); without it the script
#                    only warns at the start
#
# Building: as bench/run-compare.sh (bench-lib.sh): the targets are brought up to date in
# a configured tree, and a dir without CMakeCache.txt is configured first.
#
# Output: each run's line as it finishes (prefixed with its side), then a table: workload,
# n, procs, metric, "median ±spread" for each side (spread = 100 * (max - min) / 2 /
# median, in percent), each traced side's overhead against off, 100 * (side/off - 1) of
# the medians, and paired (the i-th runs of the two sides ran next to each other: the
# geometric mean of side/off as a percent, with its 95% confidence interval); the median
# size of the trace files; and a verdict on the workload's metric (every metric here is
# lower-is-better), from the paired figures (from the medians with a single run), the
# worse of the two sides:
#   ok       overhead at most 15%
#   OVER     above 15%, and so is the whole confidence interval: a real cost
#   over?    above 15% but the interval reaches 15% or below (or a single run): noise
# Run it on a quiet machine: with a VM or another benchmark beside it the spread swamps
# the figures (the script warns when a qemu is running).
#
# Results (bench/results/NAME.json, unless --save none): a JSON object
#   {"runs", "procs", "quick", "ring_mib", "target_pct", "build_dir",
#    "workloads": [{"workload", "metric", "unit", "n", "rounds", "procs",
#                   "off": {"median", "spread", "min", "max", "runs": [...]},
#                   "whole": {the same, and "overhead_pct", "paired_pct",
#                             "paired_ci_pct": [low, high], "trace_bytes"},
#                   "ring": {the same as whole},
#                   "verdict", "error"}, ...]}
# (null where there is no value; "error" is set, with a command to reproduce it, when a
# run failed).
#
# Exit status: 0 when every run succeeded, whatever the figures; 1 when a program failed
# (exit status, timeout, malformed line, no trace written, or with --quick a trace mntrace
# cannot read) or a build failed; 2 on bad arguments.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-trace-overhead: %s\n' "$*" >&2
    printf 'usage: bench/run-trace-overhead.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]] [--ring-mib N] [--build-dir DIR] [--timeout SEC] [--save NAME] [--trace-dir DIR] [--wait-idle]\n' >&2
    exit 2
}
die() { printf 'run-trace-overhead: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-trace-overhead: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, resolve_build_dir, configure_tree, build_targets, summarize_values, is_num, field, exit_why,
# fail_run, paired, case_stats, unit, median_cell, verdict, json_str, json_num
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"
# The workloads and their sizes, select_cases, set_case_args, procs_of, run_case, size_label.
# shellcheck source=bench/workloads.sh
source "$repo_root/bench/workloads.sh"
target_pct=15
sides=(off whole ring)

# --- arguments ----------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only="skynet pingpong spawn_many yield_many chan_mpmc mutex"
ring_mib=8
build_dir="build/release"
timeout_s=""
save=""
trace_dir="${TMPDIR:-/tmp}"
wait_idle=0

parse_opts '
    --procs      =procs_arg
    --runs       =runs
    --quick      quick=1
    --only       =only
    --ring-mib   =ring_mib
    --build-dir  =build_dir
    --timeout    =timeout_s
    --save       =save
    --trace-dir  =trace_dir
    --wait-idle  wait_idle=1' "$@"

procs_list_of "$procs_arg"
pos_int_or_default runs --runs 1 5
pos_int_or_default timeout_s --timeout 60 300
is_pos_int "$ring_mib" || bad_arg "--ring-mib must be a positive integer (MiB), got '$ring_mib'"
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
[[ -d "$trace_dir" && -w "$trace_dir" ]] || bad_arg "--trace-dir: '$trace_dir' is not a writable directory"
save_or_default none trace-overhead
select_cases "$only"

resolve_build_dir
set_case_args
targets+=(mntrace)
mn_bin() { printf '%s\n' "$build_dir/bench/$1"; }
mntrace_bin="$build_dir/tools/mntrace"

# --- building -------------------------------------------------------------------------
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    configure_tree || die "configuring $build_dir failed"
fi
build_targets "${targets[@]}" || die "building ${targets[*]} failed"
for t in "${targets[@]}"; do
    [[ "$t" == mntrace || -x "$(mn_bin "$t")" ]] || die "no $(mn_bin "$t") after the build"
done
[[ -x "$mntrace_bin" ]] || die "no $mntrace_bin after the build"
build_s=$(( SECONDS - start_s ))

tmp="$(mktemp -d)"
trace_file="$(mktemp -p "$trace_dir" mn-trace-overhead.XXXXXX.json)"
trap 'rm -rf "$tmp"; rm -f "$trace_file"' EXIT
outfile="$tmp/out"
errfile="$tmp/err"
# The off side must not trace, whatever this shell's environment says.
unset MN_TRACE MN_TRACE_RING

# (The kernel keeps 15 characters of a process name: qemu-system-x86.)
qemu_running() { pgrep '^qemu-system' >/dev/null 2>&1; }
if (( !wait_idle )) && qemu_running; then
    log "warning: a qemu-system-x86_64 is running: it competes for the CPUs, and the figures will show it (--wait-idle waits for it)"
fi
# wait_for_idle: with --wait-idle, returns once no qemu-system-x86_64 runs.
wait_for_idle() {
    (( wait_idle )) && qemu_running || return 0
    log "waiting for qemu-system-x86_64 to end (--wait-idle)"
    while qemu_running; do sleep 5; done
}

# --- the runs -------------------------------------------------------------------------
results="$tmp/results"   # "case procs side metric value", in run order (trace_bytes too)
: >"$results"
failures=0
declare -A failed=()     # "case procs side" -> why

# run_one CASE PROCS SIDE: one run with tracing off, on for the whole run, or in ring mode;
# a traced run must leave a trace, whose size is recorded (and, with --quick, which
# mntrace must read).
run_one() {
    local c="$1" procs="$2" side="$3" bytes repro
    local -a env=(MN_PROCS="$procs") cmd
    case "$side" in
        whole) env+=(MN_TRACE="$trace_file") ;;
        ring)  env+=(MN_TRACE="$trace_file" MN_TRACE_RING="$ring_mib") ;;
    esac
    rm -f "$trace_file"
    wait_for_idle
    run_case "$c" "$procs" "$side" "tracing $side" "${env[@]}" || return 1
    [[ "$side" == off ]] && return 0
    case_cmd "$c" "$(mn_bin "${case_target[$c]}")"
    repro="${env[*]} ${cmd[*]}"
    if [[ ! -s "$trace_file" ]]; then
        fail_run "$c $procs $side" "no trace written to $trace_file" "$repro" "tracing $side, $c procs=$procs"
        return 1
    fi
    bytes="$(stat -c %s "$trace_file")"
    printf '%s %s %s trace_bytes %s\n' "$c" "$procs" "$side" "$bytes" >>"$results"
    if (( quick )) && ! "$mntrace_bin" summarize --json "$trace_file" >"$outfile" 2>"$errfile"; then
        fail_run "$c $procs $side" "mntrace summarize cannot read the trace ($(head -c 300 "$errfile"))" \
            "$repro; $mntrace_bin summarize $trace_file" "tracing $side, $c procs=$procs"
        return 1
    fi
    rm -f "$trace_file"
}

log "cases: ${cases[*]}; procs: ${procs_list[*]}; runs: $runs of each of ${sides[*]} (rotating order; ring: $ring_mib MiB)$( ((quick)) && echo '; quick sizes')"
runs_start_s=$SECONDS
for c in "${cases[@]}"; do
    for p in $(procs_of "$c"); do
        log "${case_word[$c]} ${case_args[$c]} procs=$p"
        for ((i = 0; i < runs; i++)); do
            for ((j = 0; j < ${#sides[@]}; j++)); do
                side="${sides[$(( (i + j) % ${#sides[@]} ))]}"
                [[ -n "${failed["$c $p off"]+x}" || -n "${failed["$c $p whole"]+x}" || -n "${failed["$c $p ring"]+x}" ]] && continue
                run_one "$c" "$p" "$side" || true
            done
        done
    done
done
runs_s=$(( SECONDS - runs_start_s ))

# --- the table ------------------------------------------------------------------------
# pct X / pci X LOW HIGH: an overhead, and one with its interval, for the table.
pct() { [[ "$1" != - ]] && printf '%s%%' "$1" || printf -- -; }
pci() { [[ "$1" != - ]] && printf '%s%% [%s, %s]' "$1" "$2" "$3" || printf -- -; }
# side_json SIDE: the JSON of one side of the current row (md, sp, ... are the row's).
side_json() {
    local s="$1" out
    out="$(printf '{"median": %s, "spread": %s, "min": %s, "max": %s, "runs": [%s]' \
        "$(json_num "${md[$s]}")" "$(json_num "${sp[$s]}")" "$(json_num "${lo[$s]}")" \
        "$(json_num "${hi[$s]}")" "${list[$s]//,/, }")"
    if [[ "$s" != off ]]; then
        out+="$(printf ', "overhead_pct": %s, "paired_pct": %s, "paired_ci_pct": %s, "trace_bytes": %s' \
            "$(json_num "${ov[$s]}")" "$(json_num "${pe[$s]}")" \
            "$( [[ "${plo[$s]}" != - ]] && printf '[%s, %s]' "$(json_num "${plo[$s]}")" "$(json_num "${phi[$s]}")" || printf null )" \
            "$(json_num "${bytes[$s]}")")"
    fi
    printf '%s}' "$out"
}
mb() { awk -v b="$1" 'BEGIN { if (b ~ /^[0-9.]+$/) printf "%.1f", b / 1048576; else print "-" }'; }

over_list=()
unsure_list=()
json_rows=()
echo
printf 'tracing off, on for the whole run (MN_TRACE) and in ring mode (MN_TRACE_RING=%s): median ±spread of %s run(s) each;\n' "$ring_mib" "$runs"
printf 'overhead = 100 * (side/off - 1) of the medians; paired: the geometric mean of side/off over the runs taken in turn, [95%% CI]\n'
fmt='%-13s %10s %5s %-16s %15s %15s %15s %8s %22s %8s %22s %13s %-7s\n'
# shellcheck disable=SC2059
printf "$fmt" workload n procs metric off whole ring "whole" "whole paired [95% CI]" "ring" "ring paired [95% CI]" "trace MB w/r" verdict
# shellcheck disable=SC2059
printf "$fmt" ------------- ---------- ----- ---------------- --------------- --------------- --------------- -------- ---------------------- -------- ---------------------- ------------- -------
for c in "${cases[@]}"; do
    n_val="${case_args[$c]%% *}"; n_val="${n_val#*=}"
    rounds_val=""
    [[ " ${case_args[$c]} " == *" rounds="* ]] && { rounds_val="${case_args[$c]##*rounds=}"; rounds_val="${rounds_val%% *}"; }
    for p in $(procs_of "$c"); do
        err=""
        for side in "${sides[@]}"; do
            [[ -n "${failed["$c $p $side"]+x}" ]] && err="${err:+$err; }$side: ${failed["$c $p $side"]}"
        done
        for m in ${case_metrics[$c]}; do
            declare -A md=() sp=() lo=() hi=() list=() ov=() pe=() plo=() phi=() bytes=()
            for side in "${sides[@]}"; do
                read -r "md[$side]" "lo[$side]" "hi[$side]" "sp[$side]" _ "list[$side]" <<<"$(case_stats "$c" "$p" "$side" "$m")"
            done
            row_verdict="-"
            for side in whole ring; do
                read -r "bytes[$side]" _ <<<"$(case_stats "$c" "$p" "$side" trace_bytes)"
                ov[$side]="-"; pe[$side]="-"; plo[$side]="-"; phi[$side]="-"
                if [[ -n "$err" ]] || ! is_num "${md[off]}" || ! is_num "${md[$side]}"; then continue; fi
                ov[$side]="$(awk -v a="${md[$side]}" -v b="${md[off]}" 'BEGIN { if (b + 0 > 0) printf "%+.1f", 100 * (a / b - 1); else print "-" }')"
                [[ "${ov[$side]}" == - ]] && continue
                read -r pe[$side] plo[$side] phi[$side] <<<"$(paired "${list[off]}" "${list[$side]}")"
                v="$(verdict "${ov[$side]}" "${pe[$side]}" "${plo[$side]}" "$target_pct")"
                if [[ "${pe[$side]}" == - ]]; then
                    [[ "$v" == "over?" ]] && unsure_list+=("$c procs=$p $m $side: medians ${ov[$side]}% (one run each)")
                else
                    [[ "$v" == OVER ]] && over_list+=("$c procs=$p $m $side: ${pe[$side]}% [${plo[$side]}, ${phi[$side]}]")
                    [[ "$v" == "over?" ]] && unsure_list+=("$c procs=$p $m $side: ${pe[$side]}% [${plo[$side]}, ${phi[$side]}] (medians ${ov[$side]}%)")
                fi
                # The worse of the two sides.
                case "$row_verdict/$v" in
                    */OVER|OVER/*) row_verdict=OVER ;;
                    */over\?|over\?/*) row_verdict="over?" ;;
                    *) row_verdict="$v" ;;
                esac
            done
            [[ -n "$err" ]] && row_verdict=FAIL
            # shellcheck disable=SC2059
            printf "$fmt" "$c" "$(size_label "$c")" "$p" "$m" \
                "$(median_cell "${md[off]}" "${sp[off]}")" "$(median_cell "${md[whole]}" "${sp[whole]}")" \
                "$(median_cell "${md[ring]}" "${sp[ring]}")" \
                "$(pct "${ov[whole]}")" "$(pci "${pe[whole]}" "${plo[whole]}" "${phi[whole]}")" \
                "$(pct "${ov[ring]}")" "$(pci "${pe[ring]}" "${plo[ring]}" "${phi[ring]}")" \
                "$(mb "${bytes[whole]}")/$(mb "${bytes[ring]}")" "$row_verdict"

            json_rows+=("$(printf '{"workload": %s, "metric": %s, "unit": %s, "n": %s, "rounds": %s, "procs": %s, "off": %s, "whole": %s, "ring": %s, "verdict": %s, "error": %s}' \
                "$(json_str "$c")" "$(json_str "$m")" "$(json_str "$(unit "$m")")" "$(json_num "$n_val")" \
                "$(json_num "$rounds_val")" "$p" "$(side_json off)" "$(side_json whole)" "$(side_json ring)" \
                "$( [[ "$row_verdict" != - ]] && json_str "$row_verdict" || printf null )" \
                "$( [[ -n "$err" ]] && json_str "$err" || printf null )")")
            unset md sp lo hi list ov pe plo phi bytes
        done
    done
done
echo
if [[ ${#over_list[@]} -gt 0 ]]; then
    printf 'target (tracing costs under %s%% on every workload): NOT met\n' "$target_pct"
elif [[ ${#unsure_list[@]} -gt 0 ]]; then
    printf 'target (tracing costs under %s%% on every workload): not shown: %d figure(s) above it within the noise\n' \
        "$target_pct" "${#unsure_list[@]}"
else
    printf 'target (tracing costs under %s%% on every workload): met%s\n' "$target_pct" \
        "$( ((failures > 0)) && echo ' by the cells that did not fail (FAIL above; the failures are listed below)' )"
fi
for x in ${over_list[@]+"${over_list[@]}"}; do printf '  over, beyond the noise: %s\n' "$x"; done
for x in ${unsure_list[@]+"${unsure_list[@]}"}; do printf '  over, within the noise: %s\n' "$x"; done
echo
printf 'mnsched: %s\n' "$build_dir/bench"

if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    {
        printf '{"runs": %s, "procs": [%s], "quick": %s, "ring_mib": %s, "target_pct": %s, "build_dir": %s,\n "workloads": [' \
            "$runs" "$(IFS=,; echo "${procs_list[*]}")" "$( ((quick)) && echo true || echo false )" \
            "$ring_mib" "$target_pct" "$(json_str "$build_dir")"
        for ((k = 0; k < ${#json_rows[@]}; k++)); do
            printf '%s\n  %s' "$( ((k)) && echo , )" "${json_rows[$k]}"
        done
        printf ']}\n'
    } >"$json.tmp" || die "writing $json failed"
    mv "$json.tmp" "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi

time_and_failures "$build_s" "$runs_s" || exit 1
exit 0
