#!/usr/bin/env bash
# What execution tracing (MN_TRACE, docs/tracing.md) costs the runtime, against what Go's
# own execution tracer (runtime/trace) costs Go: the workloads of bench/run-compare.sh run
# with mnsched's tracing off, on for the whole run (MN_TRACE to a file) and on in ring mode
# (MN_TRACE_RING), and Go's programs (bench/go/*) with tracing off and on (GO_BENCH_TRACE to
# a file, bench/go/internal/benchflag), all alternated in the same run. The project's
# target: tracing costs under 15% on the benchmark suite, judged on the geometric mean over
# the suite's workloads (the way Go reports its tracer's overhead), with each workload's
# own verdict beside it.
#
#   bench/run-trace-overhead.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]]
#                               [--no-go] [--ring-mib N] [--build-dir DIR] [--timeout SEC]
#                               [--save NAME] [--trace-dir DIR] [--wait-idle]
#
#   --procs LIST     MN_PROCS (mnsched) and GOMAXPROCS (Go) values, each in turn; "1 2" or
#                    1,2 (default "1 2")
#   --runs K         runs of each side (off, whole, ring, go_off, go_traced) per workload
#                    and procs (default 5; with --quick, 1), in rotating order: off whole
#                    ring go_off go_traced, whole ring go_off go_traced off, ... so that a
#                    drift of the machine falls on all alike
#   --quick          the smoke test: each workload once (unless --runs is given) at
#                    bench/run-compare.sh's --quick sizes, and every trace is read back
#                    (mnsched's with `mntrace summarize`, a trace it cannot read fails the
#                    run; Go's must start with Go's trace header); not a measurement. The Go
#                    peer runs only if a Go toolchain can be had (else that is said once and
#                    it is skipped). Writes no results file unless --save is given
#   --only NAMES     comma-separated workloads (default: all of bench/workloads.sh's
#                    all_workloads, the whole suite); any of bench/run-compare.sh's, at its
#                    sizes
#   --no-go          without the Go peer: mnsched's sides only
#   --ring-mib N     MN_TRACE_RING for the ring side, MiB (default 8)
#   --build-dir DIR  CMake build dir (default build/release, relative to the repo root):
#                    holds bench/<target> and tools/mntrace, gets bench/<target>-go (Go)
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
# a configured tree, and a dir without CMakeCache.txt is configured first; Go 1.24 comes
# from tools/go-toolchain.sh and builds bench/go/<dir> offline (without it, the run fails,
# unless --quick or --no-go).
#
# Output: each run's line as it finishes (prefixed with its side), then two tables.
# The medians: workload, n, procs, metric, "median ±spread" for each side (spread = 100 *
# (max - min) / 2 / median, in percent) and the median size of the trace files (mnsched
# whole / ring, Go). The overheads: for each traced side (mnsched whole, mnsched ring, Go
# traced) against its own off side, 100 * (side/off - 1) of the medians, and paired (the
# i-th runs of the two sides ran next to each other: the geometric mean of side/off as a
# percent, with its 95% confidence interval); and the verdict on mnsched's overhead for
# the row (every metric here is lower-is-better), from the paired figures (from the
# medians with a single run), the worse of mnsched's two sides:
#   ok       overhead at most 15%
#   OVER     above 15%, and so is the whole confidence interval: a real cost
#   over?    above 15% but the interval reaches 15% or below (or a single run): noise
# and, before it, the row's clock floor: what the clock reads alone cost, below which no
# recorder that stamps each event with a reading of its own (a run begin may borrow its
# M's previous one, as this one's do) can go: the whole-run traces' otherData.clock
# (the reads the events took, and one read's cost as the recorder measured it) as a share
# of the untraced run's time (its ms= figure), medians of each.
# Then the suite: per procs value, for mnsched whole, mnsched ring and Go traced, the
# geometric mean over the workloads of each workload's paired ratio traced/off (on its
# suite metric: its first metric, syscall_ns for blocking; marked * in the overheads
# table), as a percent with its 95% confidence interval (from the runs' noise; none with a
# single run), and its verdict as above (worse of whole and ring), and the clock floor of
# the suite (the geometric mean of 1 + each workload's floor). The closing lines: the
# target's verdict on the suite, then the rows over 15% workload by workload.
# Run it on a quiet machine: with a VM or another benchmark beside it the spread swamps
# the figures (the script warns when a qemu is running). Each run starts after a `sync`,
# so that the kernel's writeback of the run before's trace file does not land on it.
#
# Results (bench/results/NAME.json, unless --save none): a JSON object
#   {"runs", "procs", "quick", "ring_mib", "target_pct", "build_dir", "go",
#    "workloads": [{"workload", "metric", "unit", "n", "rounds", "procs", "suite_metric",
#                   "off": {"median", "spread", "min", "max", "runs": [...]},
#                   "whole": {the same, and "overhead_pct", "paired_pct",
#                             "paired_ci_pct": [low, high], "trace_bytes"},
#                   "ring": {the same as whole},
#                   "go_off": {the same as off}, "go_traced": {the same as whole},
#                   "floor_pct", "clock_reads", "read_ns", "verdict", "error"}, ...],
#    "suite": [{"procs", "workloads": [names], "whole": {"geomean_pct", "ci_pct": [low,
#               high], "count"}, "ring": {the same}, "go_traced": {the same},
#               "floor_pct", "verdict"}, ...]}
# ("go" is the Go version, null without the peer, as are go_off and go_traced; null where
# there is no value; "error" is set, with a command to reproduce it, when a run failed;
# "verdict" is mnsched's).
#
# Exit status: 0 when every run succeeded, whatever the figures; 1 when a program failed
# (exit status, timeout, malformed line, no trace written, or with --quick a trace that
# cannot be read) or a build or the Go toolchain failed; 2 on bad arguments.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-trace-overhead: %s\n' "$*" >&2
    printf 'usage: bench/run-trace-overhead.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]] [--no-go] [--ring-mib N] [--build-dir DIR] [--timeout SEC] [--save NAME] [--trace-dir DIR] [--wait-idle]\n' >&2
    exit 2
}
die() { printf 'run-trace-overhead: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-trace-overhead: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, resolve_build_dir, configure_tree, build_targets, go_setup, go_find,
# go_build_cases, go_bin, summarize_values, is_num, field, exit_why, fail_run, paired,
# suite_geomean, case_stats, unit, median_cell, verdict, json_str, json_num
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"
# The workloads and their sizes and Go programs, select_cases, set_case_args, procs_of,
# run_case, size_label.
# shellcheck source=bench/workloads.sh
source "$repo_root/bench/workloads.sh"
target_pct=15

# --- arguments ----------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only=""
run_go=1
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
    --no-go      run_go=0
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

# suite_metric CASE: the metric the suite's geometric mean takes of CASE: its first, but
# blocking's syscall_ns (the runtime's path around a blocking call: raw_ns never enters
# the runtime, and overhead_ns is a difference near zero).
suite_metric() {
    case "$1" in
        blocking) echo syscall_ns ;;
        *) local m="${case_metrics[$1]}"; echo "${m%% *}" ;;
    esac
}

# --- building -------------------------------------------------------------------------
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    configure_tree || die "configuring $build_dir failed"
fi
build_targets "${targets[@]}" || die "building ${targets[*]} failed"
for t in "${targets[@]}"; do
    [[ "$t" == mntrace || -x "$(mn_bin "$t")" ]] || die "no $(mn_bin "$t") after the build"
done
[[ -x "$mntrace_bin" ]] || die "no $mntrace_bin after the build"

# The peer: Go's programs, built as bench/run-compare.sh builds them. The smoke test goes
# on without it when no toolchain can be had.
go_version=""
go_cmd=""
go_note="not run (--no-go)"
if (( run_go )); then
    if (( quick )); then
        if ! go_find; then
            go_note="not run: no Go toolchain ($go_missing)"
            log "note: no Go toolchain ($go_missing): the Go peer is skipped"
            run_go=0
        fi
    else
        go_setup "Run with --no-go to leave the Go peer out"
    fi
fi
if (( run_go )); then
    go_build_cases
    go_note="$go_version ($go_cmd)"
    log "go: $go_note"
fi
build_s=$(( SECONDS - start_s ))

sides=(off whole ring)
(( run_go )) && sides+=(go_off go_traced)
traced_sides=(whole ring)
(( run_go )) && traced_sides+=(go_traced)
# base_of SIDE: the untraced side a traced one is measured against.
base_of() { [[ "$1" == go_* ]] && echo go_off || echo off; }

tmp="$(mktemp -d)"
trace_file="$(mktemp -p "$trace_dir" mn-trace-overhead.XXXXXX.json)"
go_trace_file="$(mktemp -p "$trace_dir" go-trace-overhead.XXXXXX.trace)"
trap 'rm -rf "$tmp"; rm -f "$trace_file" "$go_trace_file"' EXIT
outfile="$tmp/out"
errfile="$tmp/err"
# The off sides must not trace, whatever this shell's environment says.
unset MN_TRACE MN_TRACE_RING GO_BENCH_TRACE

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

# group_failed CASE PROCS SIDE: a side of SIDE's system (mnsched's three, Go's two) failed
# for CASE at PROCS: that system's remaining runs there are skipped.
group_failed() {
    local s
    for s in "${sides[@]}"; do
        [[ "$(base_of "$s")" == "$(base_of "$3")" && -n "${failed["$1 $2 $s"]+x}" ]] && return 0
    done
    return 1
}

# run_one CASE PROCS SIDE: one run of mnsched with tracing off, on for the whole run or in
# ring mode, or of Go with tracing off or on; a traced run must leave a trace, whose size
# is recorded (and which, with --quick, must be readable: mntrace reads mnsched's, Go's
# must start with Go's trace header).
run_one() {
    local c="$1" procs="$2" side="$3" file="$trace_file" bytes repro
    local -a env=(MN_PROCS="$procs") go=() cmd
    case "$side" in
        whole)     env+=(MN_TRACE="$trace_file") ;;
        ring)      env+=(MN_TRACE="$trace_file" MN_TRACE_RING="$ring_mib") ;;
        go_off)    go=(--go) env=(GOMAXPROCS="$procs") ;;
        go_traced) go=(--go) env=(GOMAXPROCS="$procs" GO_BENCH_TRACE="$go_trace_file") file="$go_trace_file" ;;
    esac
    rm -f "$file"
    # The kernel writes a trace out (hundreds of MB) after its program has exited: left
    # to run on, that writeback lands on the next run, whichever side, and made a whole-run
    # ping-pong measure 150 or 240 ns a round trip by turns.
    sync
    wait_for_idle
    run_case ${go[@]+"${go[@]}"} "$c" "$procs" "$side" "tracing $side" "${env[@]}" || return 1
    if [[ "$side" == off ]]; then
        # The run's whole time, which the clock floor is a share of.
        printf '%s %s off run_ms %s\n' "$c" "$procs" \
            "$(field "$(grep -E "^${case_word[$c]} system=mnsched " "$outfile" | tail -n 1)" ms)" >>"$results"
    fi
    [[ "$side" == off || "$side" == go_off ]] && return 0
    if [[ "$side" == go_* ]]; then
        case_cmd "$c" "$(go_bin "${case_target[$c]}")"
    else
        case_cmd "$c" "$(mn_bin "${case_target[$c]}")"
    fi
    repro="${env[*]} ${cmd[*]}"
    if [[ ! -s "$file" ]]; then
        fail_run "$c $procs $side" "no trace written to $file" "$repro" "tracing $side, $c procs=$procs"
        return 1
    fi
    bytes="$(stat -c %s "$file")"
    printf '%s %s %s trace_bytes %s\n' "$c" "$procs" "$side" "$bytes" >>"$results"
    if [[ "$side" == whole ]]; then
        # otherData, the file's end: the clock reads the events took and one read's cost.
        local clock
        clock="$(tail -c 1024 "$file" | grep -oE '"clock":\{"reads":[0-9]+,"read_ns":[0-9.]+\}' || true)"
        if [[ "$clock" =~ \"reads\":([0-9]+),\"read_ns\":([0-9.]+) ]]; then
            printf '%s %s whole clock_reads %s\n%s %s whole read_ns %s\n' "$c" "$procs" \
                "${BASH_REMATCH[1]}" "$c" "$procs" "${BASH_REMATCH[2]}" >>"$results"
        fi
    fi
    if (( quick )); then
        if [[ "$side" == go_traced ]]; then
            if [[ "$(head -c 5 "$file")" != "go 1." ]]; then
                : >"$outfile"; : >"$errfile"
                fail_run "$c $procs $side" "$file is not a Go execution trace (no 'go 1.' header)" \
                    "$repro" "tracing $side, $c procs=$procs"
                return 1
            fi
        elif ! "$mntrace_bin" summarize --json "$file" >"$outfile" 2>"$errfile"; then
            fail_run "$c $procs $side" "mntrace summarize cannot read the trace ($(head -c 300 "$errfile"))" \
                "$repro; $mntrace_bin summarize $file" "tracing $side, $c procs=$procs"
            return 1
        fi
    fi
    rm -f "$file"
}

log "cases: ${cases[*]}; procs: ${procs_list[*]}; runs: $runs of each of ${sides[*]} (rotating order; ring: $ring_mib MiB)$( ((quick)) && echo '; quick sizes')"
runs_start_s=$SECONDS
for c in "${cases[@]}"; do
    for p in $(procs_of "$c"); do
        log "${case_word[$c]} ${case_args[$c]} procs=$p"
        for ((i = 0; i < runs; i++)); do
            for ((j = 0; j < ${#sides[@]}; j++)); do
                side="${sides[$(( (i + j) % ${#sides[@]} ))]}"
                group_failed "$c" "$p" "$side" && continue
                run_one "$c" "$p" "$side" || true
            done
        done
    done
done
runs_s=$(( SECONDS - runs_start_s ))

# --- the tables -----------------------------------------------------------------------
# pct X / pci X LOW HIGH: an overhead, and one with its interval, for the tables.
# ci LOW HIGH: " [LOW, HIGH]", or nothing when there is no interval.
ci() { [[ "$1" == - ]] || printf ' [%s, %s]' "$1" "$2"; }
pct() { [[ "$1" != - ]] && printf '%s%%' "$1" || printf -- -; }
pci() { [[ "$1" != - ]] && printf '%s%%%s' "$1" "$(ci "$2" "$3")" || printf -- -; }
# side_json SIDE: the JSON of one side of the current row (md, sp, ... are the row's), or
# null for a side that did not run (Go's without the peer).
side_json() {
    local s="$1" out
    [[ " ${sides[*]} " == *" $s "* ]] || { printf null; return; }
    out="$(printf '{"median": %s, "spread": %s, "min": %s, "max": %s, "runs": [%s]' \
        "$(json_num "${md[$s]}")" "$(json_num "${sp[$s]}")" "$(json_num "${lo[$s]}")" \
        "$(json_num "${hi[$s]}")" "${list[$s]//,/, }")"
    if [[ "$s" != off && "$s" != go_off ]]; then
        out+="$(printf ', "overhead_pct": %s, "paired_pct": %s, "paired_ci_pct": %s, "trace_bytes": %s' \
            "$(json_num "${ov[$s]}")" "$(json_num "${pe[$s]}")" \
            "$( [[ "${plo[$s]}" != - ]] && printf '[%s, %s]' "$(json_num "${plo[$s]}")" "$(json_num "${phi[$s]}")" || printf null )" \
            "$(json_num "${bytes[$s]}")")"
    fi
    printf '%s}' "$out"
}
mb() { awk -v b="$1" 'BEGIN { if (b ~ /^[0-9.]+$/) printf "%.1f", b / 1048576; else print "-" }'; }
# worse V1 V2: the worse of two verdicts (OVER, over?, ok, -).
worse() {
    case "$1/$2" in
        */OVER|OVER/*)       echo OVER ;;
        */over\?|over\?/*)   echo "over?" ;;
        */ok|ok/*)           echo ok ;;
        *)                   echo - ;;
    esac
}
# err_of CASE PROCS SIDE: why SIDE's system failed for CASE at PROCS, or nothing.
err_of() {
    local s out=""
    for s in "${sides[@]}"; do
        [[ "$(base_of "$s")" == "$(base_of "$3")" && -n "${failed["$1 $2 $s"]+x}" ]] \
            && out="${out:+$out; }$s: ${failed["$1 $2 $s"]}"
    done
    printf '%s' "$out"
}

over_list=()
unsure_list=()
json_rows=()
med_rows=()   # the medians table's rows, printed after the overheads are worked out
ovh_rows=()
# The medians table: one column per side, then the trace sizes.
sizes_hdr="trace MB w/r"
(( run_go )) && sizes_hdr+=/go
med_hdr=(workload n procs metric "${sides[@]}" "$sizes_hdr")
med_sep=(------------- ---------- ----- ---------------- --------------- --------------- --------------- --------------- --------------- ---------------)
med_fmt='%-13s %10s %5s %-16s'
for s in "${sides[@]}"; do med_fmt+=' %15s'; done
med_fmt+=' %15s\n'
# The overheads table: per traced side, of the medians and paired, then the verdict.
ovh_hdr=(workload procs metric)
ovh_sep=(------------- ----- -----------------)
ovh_fmt='%-13s %5s %-17s'
for s in "${traced_sides[@]}"; do
    name="$s"; [[ "$s" == go_traced ]] && name=go
    ovh_hdr+=("$name" "$name paired [95% CI]"); ovh_sep+=(-------- ------------------------); ovh_fmt+=' %8s %24s'
done
ovh_hdr+=(floor verdict); ovh_sep+=(------ -------); ovh_fmt+=' %6s %-7s\n'
declare -A floor_of=()   # "case procs" -> the clock floor, percent (or -)

for c in "${cases[@]}"; do
    n_val="${case_args[$c]%% *}"; n_val="${n_val#*=}"
    rounds_val=""
    [[ " ${case_args[$c]} " == *" rounds="* ]] && { rounds_val="${case_args[$c]##*rounds=}"; rounds_val="${rounds_val%% *}"; }
    for p in $(procs_of "$c"); do
        err="$(err_of "$c" "$p" off)"
        go_err=""
        (( run_go )) && go_err="$(err_of "$c" "$p" go_off)"
        # The clock floor: the whole-run traces' clock reads times one read's cost, as a
        # share of the untraced run's time (medians).
        read -r f_reads _ <<<"$(case_stats "$c" "$p" whole clock_reads)"
        read -r f_read_ns _ <<<"$(case_stats "$c" "$p" whole read_ns)"
        read -r f_ms _ <<<"$(case_stats "$c" "$p" off run_ms)"
        floor="$(awk -v r="$f_reads" -v k="$f_read_ns" -v ms="$f_ms" 'BEGIN {
            if (r ~ /^[0-9.eE+]+$/ && k ~ /^[0-9.eE+]+$/ && ms ~ /^[0-9.eE+]+$/ && ms + 0 > 0) printf "%+.1f", 100 * r * k / (ms * 1e6)
            else print "-" }')"
        floor_of["$c $p"]="$floor"
        for m in ${case_metrics[$c]}; do
            declare -A md=() sp=() lo=() hi=() list=() ov=() pe=() plo=() phi=() bytes=()
            for side in "${sides[@]}"; do
                read -r "md[$side]" "lo[$side]" "hi[$side]" "sp[$side]" _ "list[$side]" <<<"$(case_stats "$c" "$p" "$side" "$m")"
            done
            row_verdict="-"
            for side in "${traced_sides[@]}"; do
                base="$(base_of "$side")"
                read -r "bytes[$side]" _ <<<"$(case_stats "$c" "$p" "$side" trace_bytes)"
                ov[$side]="-"; pe[$side]="-"; plo[$side]="-"; phi[$side]="-"
                side_err="$err"; [[ "$base" == go_off ]] && side_err="$go_err"
                if [[ -n "$side_err" ]] || ! is_num "${md[$base]}" || ! is_num "${md[$side]}"; then continue; fi
                ov[$side]="$(awk -v a="${md[$side]}" -v b="${md[$base]}" 'BEGIN { if (b + 0 > 0) printf "%+.1f", 100 * (a / b - 1); else print "-" }')"
                [[ "${ov[$side]}" == - ]] && continue
                read -r "pe[$side]" "plo[$side]" "phi[$side]" <<<"$(paired "${list[$base]}" "${list[$side]}")"
                [[ "$side" == go_traced ]] && continue   # the peer: no verdict
                v="$(verdict "${ov[$side]}" "${pe[$side]}" "${plo[$side]}" "$target_pct")"
                if [[ "${pe[$side]}" == - ]]; then
                    [[ "$v" == "over?" ]] && unsure_list+=("$c procs=$p $m $side: medians ${ov[$side]}% (one run each)")
                else
                    [[ "$v" == OVER ]] && over_list+=("$c procs=$p $m $side: ${pe[$side]}% [${plo[$side]}, ${phi[$side]}]")
                    [[ "$v" == "over?" ]] && unsure_list+=("$c procs=$p $m $side: ${pe[$side]}% [${plo[$side]}, ${phi[$side]}] (medians ${ov[$side]}%)")
                fi
                row_verdict="$(worse "$row_verdict" "$v")"
            done
            [[ -n "$err" ]] && row_verdict=FAIL
            in_suite=0
            [[ "$m" == "$(suite_metric "$c")" ]] && in_suite=1

            row=("$c" "$(size_label "$c")" "$p" "$m")
            for side in "${sides[@]}"; do row+=("$(median_cell "${md[$side]}" "${sp[$side]}")"); done
            sizes="$(mb "${bytes[whole]}")/$(mb "${bytes[ring]}")"
            (( run_go )) && sizes+="/$(mb "${bytes[go_traced]}")"
            row+=("$sizes")
            # shellcheck disable=SC2059
            med_rows+=("$(printf "$med_fmt" "${row[@]}")")
            mark=""
            (( in_suite )) && mark='*'
            row=("$c" "$p" "$m$mark")
            for side in "${traced_sides[@]}"; do
                row+=("$(pct "${ov[$side]}")" "$(pci "${pe[$side]}" "${plo[$side]}" "${phi[$side]}")")
            done
            row+=("$(pct "$floor")" "$row_verdict")
            # shellcheck disable=SC2059
            ovh_rows+=("$(printf "$ovh_fmt" "${row[@]}")")

            all_err="$err"
            [[ -n "$go_err" ]] && all_err="${all_err:+$all_err; }$go_err"
            json_rows+=("$(printf '{"workload": %s, "metric": %s, "unit": %s, "n": %s, "rounds": %s, "procs": %s, "suite_metric": %s, "off": %s, "whole": %s, "ring": %s, "go_off": %s, "go_traced": %s, "floor_pct": %s, "clock_reads": %s, "read_ns": %s, "verdict": %s, "error": %s}' \
                "$(json_str "$c")" "$(json_str "$m")" "$(json_str "$(unit "$m")")" "$(json_num "$n_val")" \
                "$(json_num "$rounds_val")" "$p" "$( ((in_suite)) && echo true || echo false )" \
                "$(side_json off)" "$(side_json whole)" "$(side_json ring)" \
                "$(side_json go_off)" "$(side_json go_traced)" \
                "$(json_num "$floor")" "$(json_num "$f_reads")" "$(json_num "$f_read_ns")" \
                "$( [[ "$row_verdict" != - ]] && json_str "$row_verdict" || printf null )" \
                "$( [[ -n "$all_err" ]] && json_str "$all_err" || printf null )")")
            unset md sp lo hi list ov pe plo phi bytes
        done
    done
done

echo
printf 'medians: median ±spread of %s run(s) of each side; spread = 100 * (max - min) / 2 / median, in percent\n' "$runs"
printf 'sides: mnsched off, whole run (MN_TRACE), ring (MN_TRACE_RING=%s)%s\n' "$ring_mib" \
    "$( ((run_go)) && echo '; Go off, traced (runtime/trace, GO_BENCH_TRACE)' )"
# shellcheck disable=SC2059
printf "$med_fmt" "${med_hdr[@]}"
# shellcheck disable=SC2059
printf "$med_fmt" "${med_sep[@]:0:$(( 5 + ${#sides[@]} ))}"
printf '%s\n' "${med_rows[@]}"
echo
printf 'overheads against the same system off: 100 * (side/off - 1) of the medians; paired: the geometric mean of\n'
printf 'side/off over the runs taken in turn, [95%% CI]; verdict: mnsched'"'"'s (worse of whole and ring) against %s%%;\n' "$target_pct"
printf '* the suite metric of the workload\n'
# shellcheck disable=SC2059
printf "$ovh_fmt" "${ovh_hdr[@]}"
# shellcheck disable=SC2059
printf "$ovh_fmt" "${ovh_sep[@]}"
printf '%s\n' "${ovh_rows[@]}"

# --- the suite ----------------------------------------------------------------------------
# For each procs value and traced side: the geometric mean over the workloads (those that
# ran at that procs and did not fail) of each one's paired ratio on its suite metric.
suite_json=()
suite_verdict="-"
suite_lines=()
echo
printf 'suite: the geometric mean over the workloads of each one'"'"'s paired ratio traced/off (its * metric),\n'
printf 'as a percent [95%% CI from the runs'"'"' noise]; verdict: mnsched'"'"'s (worse of whole and ring) against %s%%\n' "$target_pct"
printf 'clock floor: the geometric mean over the same workloads of 1 + their floor (the clock reads'"'"' share)\n'
suite_fmt='%5s %9s %24s %24s %24s %11s %-7s\n'
# shellcheck disable=SC2059
printf "$suite_fmt" procs workloads "mnsched whole" "mnsched ring" "$( ((run_go)) && echo 'go traced' || echo '(go: not run)')" "clock floor" verdict
# shellcheck disable=SC2059
printf "$suite_fmt" ----- --------- ------------------------ ------------------------ ------------------------ ----------- -------
for p in "${procs_list[@]}"; do
    declare -A ge=() gl=() gh=() gn=() gw=()
    p_verdict="-"
    for side in "${traced_sides[@]}"; do
        base="$(base_of "$side")"
        names=()
        pairs=""
        for c in "${cases[@]}"; do
            [[ " $(procs_of "$c" | tr '\n' ' ') " == *" $p "* ]] || continue
            [[ -z "$(err_of "$c" "$p" "$side")" ]] || continue
            m="$(suite_metric "$c")"
            read -r _ _ _ _ _ l_off <<<"$(case_stats "$c" "$p" "$base" "$m")"
            read -r _ _ _ _ _ l_side <<<"$(case_stats "$c" "$p" "$side" "$m")"
            [[ -n "$l_off" && -n "$l_side" ]] || continue
            names+=("$c")
            pairs+="$l_off $l_side"$'\n'
        done
        read -r "ge[$side]" "gl[$side]" "gh[$side]" "gn[$side]" <<<"$(printf '%s' "$pairs" | suite_geomean)"
        gw[$side]="${names[*]}"
        if [[ "$side" != go_traced && "${ge[$side]}" != - ]]; then
            v="$(verdict "${ge[$side]}" "${ge[$side]}" "${gl[$side]}" "$target_pct")"
            p_verdict="$(worse "$p_verdict" "$v")"
            suite_lines+=("procs=$p $side: ${ge[$side]}%$(ci "${gl[$side]}" "${gh[$side]}") over ${gn[$side]} workload(s): $v")
        fi
    done
    suite_verdict="$(worse "$suite_verdict" "$p_verdict")"
    # The floor over the workloads of the whole side's figure (- if one has none).
    p_floor="$(for c in ${gw[whole]}; do printf '%s\n' "${floor_of["$c $p"]:--}"; done | awk '
        { if ($1 == "-") bad = 1; else { s += log(1 + $1 / 100); n++ } }
        END { if (bad || n == 0) print "-"; else printf "%+.1f\n", 100 * (exp(s / n) - 1) }')"
    [[ "$p_floor" != - ]] && suite_lines+=("procs=$p clock floor: $p_floor% (the clock reads alone)")
    # shellcheck disable=SC2059
    printf "$suite_fmt" "$p" "${gn[whole]}" "$(pci "${ge[whole]}" "${gl[whole]}" "${gh[whole]}")" \
        "$(pci "${ge[ring]}" "${gl[ring]}" "${gh[ring]}")" \
        "$( ((run_go)) && pci "${ge[go_traced]}" "${gl[go_traced]}" "${gh[go_traced]}" || printf -- - )" \
        "$(pct "$p_floor")" "$p_verdict"
    # suite_side_json SIDE: the suite's figure for SIDE at this procs, or null.
    suite_side_json() {
        [[ -n "${ge[$1]+x}" ]] || { printf null; return; }
        printf '{"geomean_pct": %s, "ci_pct": %s, "count": %s}' "$(json_num "${ge[$1]}")" \
            "$( [[ "${gl[$1]}" != - ]] && printf '[%s, %s]' "$(json_num "${gl[$1]}")" "$(json_num "${gh[$1]}")" || printf null )" \
            "$(json_num "${gn[$1]}")"
    }
    wl=""
    for c in ${gw[whole]}; do wl+="${wl:+, }$(json_str "$c")"; done
    suite_json+=("$(printf '{"procs": %s, "workloads": [%s], "whole": %s, "ring": %s, "go_traced": %s, "floor_pct": %s, "verdict": %s}' \
        "$p" "$wl" "$(suite_side_json whole)" "$(suite_side_json ring)" "$(suite_side_json go_traced)" \
        "$(json_num "$p_floor")" \
        "$( [[ "$p_verdict" != - ]] && json_str "$p_verdict" || printf null )")")
    unset ge gl gh gn gw
done

echo
case "$suite_verdict" in
    OVER)  printf 'target (tracing costs under %s%% on the suite, its geometric mean): NOT met\n' "$target_pct" ;;
    over?) printf 'target (tracing costs under %s%% on the suite, its geometric mean): not shown: above it within the noise\n' "$target_pct" ;;
    ok)    printf 'target (tracing costs under %s%% on the suite, its geometric mean): met%s\n' "$target_pct" \
               "$( ((failures > 0)) && echo ' by the workloads that did not fail (the failures are listed below)' )" ;;
    *)     printf 'target (tracing costs under %s%% on the suite, its geometric mean): no figure\n' "$target_pct" ;;
esac
for x in ${suite_lines[@]+"${suite_lines[@]}"}; do printf '  %s\n' "$x"; done
if [[ ${#over_list[@]} -gt 0 || ${#unsure_list[@]} -gt 0 ]]; then
    printf 'per workload (the verdict column): %d figure(s) over %s%% beyond the noise, %d within it\n' \
        "${#over_list[@]}" "$target_pct" "${#unsure_list[@]}"
else
    printf 'per workload (the verdict column): every figure at most %s%%\n' "$target_pct"
fi
for x in ${over_list[@]+"${over_list[@]}"}; do printf '  over, beyond the noise: %s\n' "$x"; done
for x in ${unsure_list[@]+"${unsure_list[@]}"}; do printf '  over, within the noise: %s\n' "$x"; done
echo
printf 'mnsched: %s\n' "$build_dir/bench"
printf 'go: %s\n' "$go_note"

if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    {
        printf '{"runs": %s, "procs": [%s], "quick": %s, "ring_mib": %s, "target_pct": %s, "build_dir": %s, "go": %s,\n "workloads": [' \
            "$runs" "$(IFS=,; echo "${procs_list[*]}")" "$( ((quick)) && echo true || echo false )" \
            "$ring_mib" "$target_pct" "$(json_str "$build_dir")" \
            "$( ((run_go)) && json_str "$go_version" || printf null )"
        for ((k = 0; k < ${#json_rows[@]}; k++)); do
            printf '%s\n  %s' "$( ((k)) && echo , )" "${json_rows[$k]}"
        done
        printf '],\n "suite": ['
        for ((k = 0; k < ${#suite_json[@]}; k++)); do
            printf '%s\n  %s' "$( ((k)) && echo , )" "${suite_json[$k]}"
        done
        printf ']}\n'
    } >"$json.tmp" || die "writing $json failed"
    mv "$json.tmp" "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi

time_and_failures "$build_s" "$runs_s" || exit 1
exit 0
