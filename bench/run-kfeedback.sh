#!/usr/bin/env bash
# The evaluation of the kernel-feedback policies (docs/kernel-feedback.md): what they do for
# a latency-sensitive service and for spinning when another process competes for the CPUs,
# and what they cost when nothing competes. Three parts, each skippable:
#
#   1. latency: bench/latency_service (mnsched) and Go's version (bench/go/latencyservice)
#      beside bench/cpu_hog, with each feedback configuration; and, for reference, mnsched
#      off and Go without the hog. The project's target: p99 with feedback off / p99 with
#      all policies >= 3, and Go's p99 / all's p99 >= 3.
#   2. sweep: the same service beside the hog with the handoff policy alone, at each handoff
#      threshold (MN_KF_HANDOFF_US).
#   3. oversub: spin-heavy workloads of the suite (bench/workloads.sh), each beside the hog
#      and without it, feedback off and on. The targets: with the hog, the Ms spin at least
#      50% less; without it, the workload's metric stays within 5%.
#
#   bench/run-kfeedback.sh [--quick] [--runs K] [--procs P] [--configs LIST]
#                          [--rate R] [--seconds S] [--warmup W] [--work-us U] [--fanout F]
#                          [--hog-threads N] [--sweep LIST] [--sweep-runs K]
#                          [--only NAME[,NAME]] [--oversub-configs LIST] [--oversub-runs K]
#                          [--no-latency] [--no-hog-baseline] [--no-sweep] [--no-oversub]
#                          [--build-dir DIR] [--timeout SEC] [--save NAME] [--plot-dir DIR]
#
#   --quick              the smoke test, not a measurement: every run once, the service for
#                        1 s without warm-up, a sweep of one threshold (50), the workloads
#                        at bench/workloads.sh's quick sizes; under a minute on 2 CPUs once
#                        built. Writes no results file and no plots unless --save or
#                        --plot-dir is given
#   --runs K             latency runs per configuration (default 5; with --quick, 1); each
#                        round runs every configuration once, in an order rotated by one
#                        from round to round, so that a drift of the machine falls on all
#   --procs P            MN_PROCS for mnsched, GOMAXPROCS for Go, in every part (default 2)
#   --configs LIST       the latency part's configurations (default "off telemetry handoff
#                        spin all go"): go is Go's service; off is mnsched with
#                        MN_KERNEL_FEEDBACK=off; any other word W is mnsched with
#                        MN_KERNEL_FEEDBACK=required,W (telemetry: the programs loaded, no
#                        policy; handoff, spin: that policy alone; all: every policy), and
#                        W+V for several policies (required,W,V). "required" makes a run
#                        fail rather than run silently without feedback. A word the
#                        runtime does not know is a bad argument
#   --rate R, --seconds S, --warmup W, --work-us U, --fanout F
#                        the service's flags: requests per second (default 10000), measured
#                        seconds (5; with --quick, 1), seconds not measured first (1; with
#                        --quick, 0), CPU microseconds per request (50), split over F Gs or
#                        goroutines (2)
#   --hog-threads N      bench/cpu_hog's --threads (default 2). The hog starts before each
#                        run that has one and is killed after it (and when the script ends)
#   --sweep LIST         handoff thresholds in microseconds, 1 to 100000 (default "10 25 50
#                        100 200"; with --quick, 50)
#   --sweep-runs K       runs per threshold (default 3; with --quick, 1), rotated as --runs
#   --only NAMES         the oversubscription workloads, comma-separated (default
#                        pingpong,chan_mpmc,skynet,spawn_many,yield_many; any of
#                        bench/workloads.sh's, at its sizes: bench/run-compare.sh --help)
#   --oversub-configs LIST
#                        their configurations, as --configs without go (default "off all");
#                        compared against off, the targets judge all
#   --oversub-runs K     runs per workload, hog or not, and configuration (default 3; with
#                        --quick, 1), rotated as --runs
#   --no-latency, --no-hog-baseline, --no-sweep, --no-oversub
#                        skip the latency part, its runs without the hog, the sweep, the
#                        oversubscription part
#   --build-dir DIR      CMake build dir (default build/release, relative to the repo root):
#                        holds bench/latency_service, bench/cpu_hog and the workloads' programs,
#                        gets bench/latency_service-go
#   --timeout SEC        a run taking longer is killed and counted as failed (default 300;
#                        with --quick, 60)
#   --save NAME          results file bench/results/NAME.json (default "kfeedback"; with
#                        --quick, none); --save none writes nothing
#   --plot-dir DIR       where the charts go (default docs/img, relative to the repo root;
#                        with --quick, none): kfeedback-latency.png (p50, p99 and p999 per
#                        latency configuration, log scale) and kfeedback-spin.png (spin ms
#                        per workload beside the hog, per oversubscription configuration).
#                        --plot-dir none draws none. Drawn with gnuplot (Debian:
#                        gnuplot-nox); without it they are skipped with a note
#
# Spin and CPU figures: the workloads run with MN_SCHEDTRACE=100000 (a period longer than any
# run, so that only the runtime's line at exit counts); the last line starting with SCHED on
# stderr gives spinms= (ms the Ms spent spinning) and cpums= (the process's user + sys CPU
# ms). A runtime that prints neither gives null figures and the run still counts.
#
# Needs root: loading the BPF programs needs CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
# Without root, or when the runtime cannot load them (MN_KERNEL_FEEDBACK=required exits 2),
# the script says why, runs only off and Go (no sweep), and exits 0.
#
# Building: as bench/run-compare.sh (bench-lib.sh): the targets are brought up to date in a
# configured tree (`cmake --build --preset release --target ...` for the default dir), a
# dir without CMakeCache.txt is configured first; Go 1.24 comes from tools/go-toolchain.sh
# and builds bench/go/latencyservice offline.
#
# Output: each run's line as it finishes, prefixed with its configuration and hog or nohog
# (the workloads' lines get the spin and CPU figures appended), then a table per part: the
# median [min..max] of the runs, the latency ratios and the oversubscription comparisons
# with the verdicts on the targets.
#
# Results (bench/results/NAME.json, unless --save none): a JSON object
#   {"quick", "procs", "hog_threads", "build_dir", "go_version", "feedback_available",
#    "feedback_note",
#    "latency": {"rate", "seconds", "warmup", "work_us", "fanout", "runs",
#                "configs": [{"config", "env", "hog", "p50_us", "p99_us", "p999_us",
#                             "max_us", "rps", "error"}, ...],
#                "p99_off_over_all", "p99_go_over_all"},
#    "sweep": {"runs", "thresholds": [{"handoff_us", "p50_us", ..., "error"}, ...]},
#    "oversub": {"runs", "configs", "rows": [{"workload", "metric", "unit", "n",
#                "rounds", "hog", "config", "env", "value", "spinms", "cpums",
#                "ratio_vs_off", "spin_reduction_pct", "cpu_ratio_vs_off", "error"}, ...]}}
# where each figure is {"median", "min", "max", "spread", "runs": [...]} (spread: 100 *
# (max - min) / 2 / median, in percent); null where there is no value, and for a part
# that did not run.
#
# Exit status: 0 when every run succeeded, whatever the figures (and without feedback);
# 1 when a program failed (exit status, timeout, malformed line; reported with a command
# to reproduce it, and that configuration's remaining runs are skipped), when a build
# failed, or when gnuplot failed; 2 on bad arguments (a configuration word the runtime
# does not know included).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-kfeedback: %s\n' "$*" >&2
    printf 'usage: bench/run-kfeedback.sh [--quick] [--runs K] [--procs P] [--configs LIST] [--rate R] [--seconds S] [--warmup W] [--work-us U] [--fanout F] [--hog-threads N] [--sweep LIST] [--sweep-runs K] [--only NAME[,NAME]] [--oversub-configs LIST] [--oversub-runs K] [--no-latency] [--no-hog-baseline] [--no-sweep] [--no-oversub] [--build-dir DIR] [--timeout SEC] [--save NAME] [--plot-dir DIR]\n' >&2
    exit 2
}
die() { printf 'run-kfeedback: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-kfeedback: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, need_value, is_pos_int, split_list, configure_tree, tree_targets, build_targets,
# go_setup, go_build, summarize_values, is_num, ratio
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"
# all_workloads, workload_cases, case_target, case_word, case_full, case_quick,
# case_metrics, case_only_procs
# shellcheck source=bench/workloads.sh
source "$repo_root/bench/workloads.sh"

# --- arguments ------------------------------------------------------------------------
quick=0
runs="" procs=2
configs_arg="off telemetry handoff spin all go"
rate=10000 seconds="" warmup="" work_us=50 fanout=2
hog_threads=2
sweep_arg="" sweep_runs=""
only="pingpong,chan_mpmc,skynet,spawn_many,yield_many"
oversub_configs_arg="off all" oversub_runs=""
do_latency=1 hog_baseline=1 do_sweep=1 do_oversub=1
build_dir="build/release"
timeout_s="" save="" plot_dir=""

parse_opts '
    --quick            quick=1
    --runs             =runs
    --procs            =procs
    --configs          =configs_arg
    --rate             =rate
    --seconds          =seconds
    --warmup           =warmup
    --work-us          =work_us
    --fanout           =fanout
    --hog-threads      =hog_threads
    --sweep            =sweep_arg
    --sweep-runs       =sweep_runs
    --only             =only
    --oversub-configs  =oversub_configs_arg
    --oversub-runs     =oversub_runs
    --no-latency       do_latency=0
    --no-hog-baseline  hog_baseline=0
    --no-sweep         do_sweep=0
    --no-oversub       do_oversub=0
    --build-dir        =build_dir
    --timeout          =timeout_s
    --save             =save
    --plot-dir         =plot_dir' "$@"

pos_int_or_default runs --runs 1 5
pos_int_or_default sweep_runs --sweep-runs 1 3
pos_int_or_default oversub_runs --oversub-runs 1 3
pos_int_or_default seconds --seconds 1 5
pos_int_or_default timeout_s --timeout 60 300
if [[ -z "$warmup" ]]; then
    warmup=$(( quick ? 0 : 1 ))
else
    [[ "$warmup" =~ ^(0|[1-9][0-9]{0,3})$ ]] || bad_arg "--warmup must be 0 or a positive integer (seconds), got '$warmup'"
fi
is_pos_int "$procs" || bad_arg "--procs must be a positive integer, got '$procs'"
is_pos_int "$hog_threads" || bad_arg "--hog-threads must be a positive integer, got '$hog_threads'"
# The service's own limits (bench/latency_service.cpp), so that a bad value stops here.
{ is_pos_int "$rate" && (( rate <= 1000000 )); } || bad_arg "--rate must be 1 to 1000000 requests per second, got '$rate'"
(( seconds <= 3600 )) || bad_arg "--seconds must be at most 3600, got '$seconds'"
[[ "$work_us" =~ ^(0|[1-9][0-9]{0,5})$ ]] || bad_arg "--work-us must be 0 to 999999 microseconds, got '$work_us'"
{ is_pos_int "$fanout" && (( fanout <= 64 )); } || bad_arg "--fanout must be 1 to 64, got '$fanout'"
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
save_or_default none kfeedback
if [[ -z "$plot_dir" ]]; then
    plot_dir=$( ((quick)) && echo none || echo docs/img )
fi

lat_configs=() over_configs=() sweep_list=() only_words=()   # split_list fills them

# A configuration: go, off, or policy words joined by + (the runtime judges the words).
# check_configs OPT VAR TEXT ALLOW_GO
check_configs() {
    local opt="$1" text="$3" allow_go="$4" c seen=" "
    split_list "$2" "$text"
    local -n out="$2"
    [[ ${#out[@]} -gt 0 ]] || bad_arg "$opt: empty list"
    for c in "${out[@]}"; do
        [[ "$c" =~ ^(go|off|[a-z]+(\+[a-z]+)*)$ ]] \
            || bad_arg "$opt: '$c' is not a configuration (go, off, or policy words joined by +, e.g. handoff+spin)"
        [[ "$c" != go || "$allow_go" == 1 ]] || bad_arg "$opt: 'go' has no oversubscription programs here"
        [[ "$seen" != *" $c "* ]] || bad_arg "$opt: '$c' is listed twice"
        seen+="$c "
    done
}
check_configs --configs lat_configs "$configs_arg" 1
check_configs --oversub-configs over_configs "$oversub_configs_arg" 0

[[ -n "$sweep_arg" ]] || sweep_arg=$( ((quick)) && echo 50 || echo "10 25 50 100 200" )
split_list sweep_list "$sweep_arg"
[[ ${#sweep_list[@]} -gt 0 ]] || bad_arg "--sweep: empty list"
for t in "${sweep_list[@]}"; do
    { is_pos_int "$t" && (( t <= 100000 )); } \
        || bad_arg "--sweep: '$t' is not a threshold of 1 to 100000 microseconds (in '$sweep_arg')"
done

declare -A wanted=()
split_list only_words "$only"
for name in ${only_words[@]+"${only_words[@]}"}; do
    [[ -n "${workload_cases[$name]+x}" ]] \
        || bad_arg "--only: unknown workload '$name' (known: ${all_workloads[*]})"
    for c in ${workload_cases[$name]}; do wanted[$c]=1; done
done
(( ${#wanted[@]} > 0 || !do_oversub )) || bad_arg "--only: empty list"
cases=()
if (( do_oversub )); then
    for c in "${all_cases[@]}"; do
        [[ -n "${wanted[$c]+x}" ]] || continue
        if [[ -n "${case_only_procs[$c]+x}" && "${case_only_procs[$c]}" != "$procs" ]]; then
            log "note: $c runs at procs=${case_only_procs[$c]} only, not at --procs $procs: skipped"
            continue
        fi
        cases+=("$c")
    done
    [[ ${#cases[@]} -gt 0 ]] || bad_arg "--only '$only': no workload runs at procs=$procs"
fi
(( do_latency || do_sweep || do_oversub )) || bad_arg "--no-latency, --no-sweep and --no-oversub leave nothing to run"

[[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
build_dir="${build_dir%/}"
if [[ "$plot_dir" != none ]]; then
    [[ "$plot_dir" == /* ]] || plot_dir="$repo_root/$plot_dir"
    plot_dir="${plot_dir%/}"
fi
results_dir="$repo_root/bench/results"
# shellcheck disable=SC2034  # read by bench-lib.sh's configure_tree and build_targets
preset_dir="$repo_root/build/release"

declare -A case_args=()
for c in ${cases[@]+"${cases[@]}"}; do
    if (( quick )); then case_args[$c]="${case_quick[$c]}"; else case_args[$c]="${case_full[$c]}"; fi
done

# in_list WORD WORD...: the first word is one of the others.
in_list() { local w="$1" x; shift; for x in "$@"; do [[ "$x" == "$w" ]] && return 0; done; return 1; }
# kf_env CONFIG: its MN_KERNEL_FEEDBACK value.
kf_env() { if [[ "$1" == off ]]; then echo off; else echo "required,${1//+/,}"; fi; }

# --- building -----------------------------------------------------------------------------
mn_bin() { printf '%s\n' "$build_dir/bench/$1"; }
lat_bin="$(mn_bin latency_service)"
lat_go_bin="$build_dir/bench/latency_service-go"
hog_bin="$(mn_bin cpu_hog)"
want_go=0
(( do_latency )) && in_list go "${lat_configs[@]}" && want_go=1
# The service is built whatever the parts: it is also the probe of feedback.
targets=(latency_service cpu_hog)
for c in ${cases[@]+"${cases[@]}"}; do
    in_list "${case_target[$c]}" "${targets[@]}" || targets+=("${case_target[$c]}")
done
do_build=0
[[ -f "$build_dir/CMakeCache.txt" ]] && do_build=1
for t in "${targets[@]}"; do [[ -x "$(mn_bin "$t")" ]] || do_build=1; done
if (( do_build )); then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        configure_tree || die "configuring $build_dir failed"
    fi
    known="$(tree_targets)" || die "cannot list the targets of $build_dir (cmake --build $build_dir --target help failed)"
    for t in "${targets[@]}"; do
        grep -qxF -- "$t" <<<"$known" \
            || die "$build_dir defines no target '$t' (is it in bench/CMakeLists.txt, and MN_BUILD_BENCH on?)"
    done
    build_targets "${targets[@]}" || die "building the benchmarks (${targets[*]}) failed"
fi
for t in "${targets[@]}"; do
    [[ -x "$(mn_bin "$t")" ]] || die "no $(mn_bin "$t") after the build"
done
go_version="(not run)"
go_cmd=""
if (( want_go )); then
    go_setup "The evaluation compares against Go 1.24; leave go out of --configs to run without it"
    mkdir -p "$build_dir/bench"
    log "building $lat_go_bin from bench/go/latencyservice"
    go_build latencyservice "$lat_go_bin" || die "building bench/go/latencyservice failed"
    log "go: $go_version"
fi
build_s=$(( SECONDS - start_s ))

# --- the hog, and what is left behind ---------------------------------------------------------
tmp="$(mktemp -d)"
hog_pid=""
# The hog must not outlive the script, however the script ends.
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    if [[ -n "$hog_pid" ]]; then
        kill "$hog_pid" 2>/dev/null || true
        wait "$hog_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
outfile="$tmp/out"
errfile="$tmp/err"

# start_hog SECONDS: cpu_hog in the background, its threads running before this returns.
# Its --seconds bounds it even if the script is killed with SIGKILL.
start_hog() {
    "$hog_bin" --threads "$hog_threads" --seconds "$1" </dev/null >/dev/null 2>"$tmp/hog.err" &
    hog_pid=$!
    sleep 0.2
    if ! kill -0 "$hog_pid" 2>/dev/null; then
        sed 's/^/  | /' "$tmp/hog.err" >&2
        hog_pid=""
        die "$hog_bin --threads $hog_threads --seconds $1 ended at once"
    fi
}
# stop_hog: kill it; fails when it had already ended (it ran out of --seconds).
stop_hog() {
    local alive=0
    kill -0 "$hog_pid" 2>/dev/null && alive=1
    kill "$hog_pid" 2>/dev/null || true
    wait "$hog_pid" 2>/dev/null || true
    hog_pid=""
    (( alive ))
}

# --- can the runtime load its programs, and does it know every configuration? ------------------
feedback=1
feedback_note=""
probe() {  # probe ENV_VALUE: a service run of one request; its exit status
    local rc=0
    MN_KERNEL_FEEDBACK="$1" MN_PROCS="$procs" timeout -k 10 60 \
        "$lat_bin" --rate 1 --seconds 1 --warmup 0 </dev/null >"$outfile" 2>"$errfile" || rc=$?
    return "$rc"
}
if [[ "$(id -u)" -ne 0 ]]; then
    feedback=0
    feedback_note="not root: the runtime cannot load its BPF programs (that needs CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON)"
else
    rc=0
    probe required || rc=$?
    if (( rc == 2 )) && grep -q 'required but unavailable' "$errfile"; then
        feedback=0
        feedback_note="the runtime cannot load its BPF programs here: $(sed -n 's/^mn: kernel feedback is required but unavailable: //p' "$errfile" | head -n 1)"
    elif (( rc != 0 )); then
        sed 's/^/  | /' "$errfile" >&2
        die "MN_KERNEL_FEEDBACK=required MN_PROCS=$procs $lat_bin --rate 1 --seconds 1 --warmup 0 failed (exit status $rc; its messages are above)"
    fi
fi
if (( feedback )); then
    to_probe=()
    (( do_latency )) && to_probe+=("${lat_configs[@]}")
    (( do_oversub )) && to_probe+=("${over_configs[@]}")
    (( do_sweep )) && to_probe+=(handoff)
    probed=" off "
    for c in ${to_probe[@]+"${to_probe[@]}"}; do
        [[ "$c" == go || "$probed" == *" $c "* ]] && continue
        probed+="$c "
        rc=0
        probe "$(kf_env "$c")" || rc=$?
        (( rc == 0 )) && continue
        if (( rc == 2 )) && grep -q 'MN_KERNEL_FEEDBACK=' "$errfile"; then
            bad_arg "configuration '$c': the runtime in $build_dir does not take MN_KERNEL_FEEDBACK=$(kf_env "$c"): $(grep -m 1 'MN_KERNEL_FEEDBACK=' "$errfile" | sed 's/^mn: //') (choose others with --configs / --oversub-configs)"
        fi
        sed 's/^/  | /' "$errfile" >&2
        die "MN_KERNEL_FEEDBACK=$(kf_env "$c") MN_PROCS=$procs $lat_bin --rate 1 --seconds 1 --warmup 0 failed (exit status $rc), though feedback loads with MN_KERNEL_FEEDBACK=required (its messages are above)"
    done
else
    echo "run-kfeedback: kernel feedback is unavailable: $feedback_note. Running only mnsched with feedback off and Go; no sweep." \
         "Run as root on a kernel with BTF for the rest (sudo bash bench/run-kfeedback.sh)."
    keep=()
    for c in "${lat_configs[@]}"; do [[ "$c" == off || "$c" == go ]] && keep+=("$c"); done
    lat_configs=(${keep[@]+"${keep[@]}"})
    over_configs=(off)
    do_sweep=0
fi
if (( do_latency )) && [[ ${#lat_configs[@]} -eq 0 ]]; then
    log "note: none of --configs '$configs_arg' runs without feedback: no latency part"
    do_latency=0
fi

# --- the runs ----------------------------------------------------------------------------------
results="$tmp/results"   # "part key config hog field value", in run order
: >"$results"
failures=0
declare -A failed=()     # "part key config hog" -> why

# rotate ROUND ITEM...: the items, starting at the ROUND-th (modulo their count).
rotate() {
    local r="$1"; shift
    local n=$# i
    local -a items=("$@")
    for ((i = 0; i < n; i++)); do printf '%s\n' "${items[(r + i) % n]}"; done
}

# run_cmd HOG HOG_SECONDS ENV... -- CMD...: run once (beside the hog for HOG=hog), output in
# outfile and errfile; returns the exit status. hog_short is set when the hog ran out first.
hog_short=0
run_cmd() {
    local hog="$1" hog_s="$2" rc=0
    shift 2
    local -a envs=()
    while [[ "$1" != -- ]]; do envs+=("$1"); shift; done
    shift
    hog_short=0
    [[ "$hog" == hog ]] && start_hog "$hog_s"
    env "${envs[@]}" timeout -k 10 "$timeout_s" "$@" </dev/null >"$outfile" 2>"$errfile" || rc=$?
    if [[ "$hog" == hog ]]; then stop_hog || hog_short=1; fi
    return "$rc"
}

lat_fields=(p50_us p99_us p999_us max_us rps)
# run_service PART KEY CONFIG HOG: one run of the latency service (for the sweep, KEY is the
# handoff threshold), its line printed and its figures recorded.
run_service() {
    local part="$1" key="$2" c="$3" hog="$4"
    local system=mnsched bin="$lat_bin" line why="" f v hog_s=$((seconds + warmup + 10)) rc=0
    local -a envs=("MN_PROCS=$procs")
    if [[ "$c" == go ]]; then
        system=go bin="$lat_go_bin" envs=("GOMAXPROCS=$procs")
    else
        envs+=("MN_KERNEL_FEEDBACK=$(kf_env "$c")")
    fi
    [[ "$part" == sweep ]] && envs+=("MN_KF_HANDOFF_US=$key")
    local -a cmd=("$bin" --rate "$rate" --seconds "$seconds" --warmup "$warmup" --work-us "$work_us" --fanout "$fanout")
    local repro="${envs[*]} ${cmd[*]}"
    [[ "$hog" == hog ]] && repro="$hog_bin --threads $hog_threads --seconds $hog_s & $repro; kill %1"
    run_cmd "$hog" "$hog_s" "${envs[@]}" -- "${cmd[@]}" || rc=$?
    line="$(grep -E "^latency_service system=$system " "$outfile" | tail -n 1 || true)"
    why="$(exit_why "$rc")"
    [[ -z "$why" && -z "$line" ]] && why="printed no 'latency_service system=$system ...' line"
    if [[ -z "$why" ]]; then
        for f in procs:"$procs" rate:"$rate" work_us:"$work_us" fanout:"$fanout"; do
            [[ "$(field "$line" "${f%%:*}")" == "${f#*:}" ]] || why="${f%%:*}= is not ${f#*:} in: $line"
        done
        for f in "${lat_fields[@]}"; do
            is_num "$(field "$line" "$f")" || why="bad or missing $f= in: $line"
        done
    fi
    local label="$c $hog" pkey="$part $key $c $hog"
    [[ "$part" == sweep ]] && label="handoff_us=$key $hog"
    if [[ -n "$why" ]]; then
        fail_run "$pkey" "$why" "$repro" "$label"
        return 1
    fi
    printf '%-18s %s\n' "$label" "$line"
    (( hog_short )) && log "warning: cpu_hog ran out before this run ended (its --seconds $hog_s): the end of the run had no competition"
    for f in "${lat_fields[@]}"; do
        printf '%s %s %s %s %s %s\n' "$part" "$key" "$c" "$hog" "$f" "$(field "$line" "$f")" >>"$results"
    done
}

# run_workload CASE CONFIG HOG: one run of a workload, its line printed with the spin and CPU
# figures of the runtime's last SCHED line, all recorded.
run_workload() {
    local c="$1" cfg="$2" hog="$3"
    local word="${case_word[$c]}" line sched why="" kv k m v first=1 rc=0 hog_s=$((timeout_s + 5))
    local -a envs=("MN_PROCS=$procs" "MN_KERNEL_FEEDBACK=$(kf_env "$cfg")" MN_SCHEDTRACE=100000)
    local -a cmd=("$(mn_bin "${case_target[$c]}")")
    for kv in ${case_args[$c]}; do cmd+=("--${kv%%=*}" "${kv#*=}"); done
    local repro="${envs[*]} ${cmd[*]}"
    [[ "$hog" == hog ]] && repro="$hog_bin --threads $hog_threads --seconds $hog_s & $repro; kill %1"
    run_cmd "$hog" "$hog_s" "${envs[@]}" -- "${cmd[@]}" || rc=$?
    line="$(grep -E "^$word system=mnsched " "$outfile" | tail -n 1 || true)"
    why="$(exit_why "$rc")"
    [[ -z "$why" && -z "$line" ]] && why="printed no '$word system=mnsched ...' line"
    if [[ -z "$why" ]]; then
        for kv in ${case_args[$c]}; do
            k="${kv%%=*}"
            if (( first )) || has_field "$line" "$k"; then
                [[ "$(field "$line" "$k")" == "${kv#*=}" ]] || why="$k= is not ${kv#*=} in: $line"
            fi
            first=0
        done
        for m in ${case_metrics[$c]}; do
            is_num "$(field "$line" "$m")" || why="bad or missing $m= in: $line"
        done
    fi
    if [[ -n "$why" ]]; then
        fail_run "over $c $cfg $hog" "$why" "$repro" "$c $cfg $hog"
        return 1
    fi
    # A runtime without the figures (or one that printed no SCHED line) leaves them out.
    sched="$(grep '^SCHED' "$errfile" | tail -n 1 || true)"
    local spin cpu
    spin="$(field "$sched" spinms)"; is_num "$spin" || spin="-"
    cpu="$(field "$sched" cpums)"; is_num "$cpu" || cpu="-"
    printf '%-18s %s | spinms=%s cpums=%s\n' "$cfg $hog" "$line" "$spin" "$cpu"
    (( hog_short )) && log "warning: cpu_hog ran out before this run ended (its --seconds $hog_s)"
    for m in ${case_metrics[$c]}; do
        printf 'over %s %s %s %s %s\n' "$c" "$cfg" "$hog" "$m" "$(field "$line" "$m")" >>"$results"
    done
    [[ "$spin" != - ]] && printf 'over %s %s %s spinms %s\n' "$c" "$cfg" "$hog" "$spin" >>"$results"
    [[ "$cpu" != - ]] && printf 'over %s %s %s cpums %s\n' "$c" "$cfg" "$hog" "$cpu" >>"$results"
    return 0
}

runs_start_s=$SECONDS
service_desc="rate=$rate/s, ${work_us} us of work per request over $fanout G(s), ${seconds} s measured after ${warmup} s of warm-up, procs=$procs"

lat_entries=()
if (( do_latency )); then
    baseline=()
    if (( hog_baseline )); then
        for c in off go; do in_list "$c" "${lat_configs[@]}" && baseline+=("$c"); done
    fi
    for c in "${lat_configs[@]}"; do lat_entries+=("$c hog"); done
    for c in ${baseline[@]+"${baseline[@]}"}; do lat_entries+=("$c nohog"); done
    log "latency: ${service_desc}; beside cpu_hog --threads $hog_threads: ${lat_configs[*]}${baseline[*]:+; without it: ${baseline[*]}}"
    log "latency: $runs round(s), each configuration once per round, the order rotated"
    for ((i = 0; i < runs; i++)); do
        mapfile -t order < <(rotate "$i" "${lat_entries[@]}")
        for e in "${order[@]}"; do
            read -r c h <<<"$e"
            [[ -n "${failed["lat - $c $h"]+x}" ]] && continue
            run_service lat - "$c" "$h" || true
        done
    done
fi

if (( do_sweep )); then
    log "sweep: MN_KERNEL_FEEDBACK=required,handoff MN_KF_HANDOFF_US=${sweep_list[*]} (us) beside the hog, $sweep_runs run(s) each"
    for ((i = 0; i < sweep_runs; i++)); do
        mapfile -t order < <(rotate "$i" "${sweep_list[@]}")
        for t in "${order[@]}"; do
            [[ -n "${failed["sweep $t handoff hog"]+x}" ]] && continue
            run_service sweep "$t" handoff hog || true
        done
    done
fi

if (( do_oversub )); then
    log "oversub: ${cases[*]} at procs=$procs$( ((quick)) && echo ', quick sizes'), beside cpu_hog --threads $hog_threads and without: ${over_configs[*]}, $oversub_runs run(s) each"
    over_entries=()
    for h in hog nohog; do for cfg in "${over_configs[@]}"; do over_entries+=("$cfg $h"); done; done
    for c in "${cases[@]}"; do
        log "${case_word[$c]} ${case_args[$c]}"
        for ((i = 0; i < oversub_runs; i++)); do
            mapfile -t order < <(rotate "$i" "${over_entries[@]}")
            for e in "${order[@]}"; do
                read -r cfg h <<<"$e"
                [[ -n "${failed["over $c $cfg $h"]+x}" ]] && continue
                run_workload "$c" "$cfg" "$h" || true
            done
        done
    done
fi
runs_s=$(( SECONDS - runs_start_s ))

# --- the tables ----------------------------------------------------------------------------------
# stats PART KEY CONFIG HOG FIELD: summarize_values of the recorded runs ("median min max
# spread count v1,v2,...").
stats() {
    awk -v p="$1" -v k="$2" -v c="$3" -v h="$4" -v f="$5" \
        '$1 == p && $2 == k && $3 == c && $4 == h && $5 == f { print $6 }' "$results" | summarize_values
}
med_of() { local m; read -r m _ <<<"$(stats "$@")"; printf '%s\n' "$m"; }
num_fmt() {  # a figure to a precision fit to its size
    awk -v v="$1" 'BEGIN { a = (v < 0) ? -v : v; printf (a >= 100 ? "%.0f" : "%.1f"), v }'
}
# range_cell PART KEY CONFIG HOG FIELD: "median [min..max]", the median alone for one run,
# FAIL for a failed configuration, - without data.
range_cell() {
    local md lo hi cnt
    if [[ -n "${failed["$1 $2 $3 $4"]+x}" ]]; then echo FAIL; return; fi
    read -r md lo hi _ cnt _ <<<"$(stats "$@")"
    if (( cnt == 0 )); then echo -
    elif (( cnt == 1 )); then num_fmt "$md"
    else printf '%s [%s..%s]\n' "$(num_fmt "$md")" "$(num_fmt "$lo")" "$(num_fmt "$hi")"
    fi
}
# verdict VALUE OP TARGET: met / NOT met for a number, else "not judged".
verdict() {
    is_num "$1" || { echo "not judged"; return; }
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print (ok ? "met" : "NOT met") }'
}

r_off_all="n/a" r_go_all="n/a"
if (( do_latency )); then
    echo
    echo "latency service: $service_desc"
    printf 'median [min..max] of %s run(s), microseconds (rps: requests per second); hog: beside cpu_hog --threads %s\n' "$runs" "$hog_threads"
    fmt='%-14s %-6s %-22s %-22s %-22s %-22s %s\n'
    # shellcheck disable=SC2059
    printf "$fmt" config hog p50_us p99_us p999_us max_us rps
    # shellcheck disable=SC2059
    printf "$fmt" -------------- ------ ---------------------- ---------------------- ---------------------- ---------------------- ----------------------
    for e in "${lat_entries[@]}"; do
        read -r c h <<<"$e"
        row=()
        for f in "${lat_fields[@]}"; do row+=("$(range_cell lat - "$c" "$h" "$f")"); done
        # shellcheck disable=SC2059
        printf "$fmt" "$c" "$h" "${row[@]}"
    done
    p99_all="$(med_of lat - all hog p99_us)"
    [[ -n "${failed["lat - all hog"]+x}" ]] && p99_all=-
    if [[ -n "${failed["lat - off hog"]+x}" ]]; then p99_off=-; else p99_off="$(med_of lat - off hog p99_us)"; fi
    if [[ -n "${failed["lat - go hog"]+x}" ]]; then p99_go=-; else p99_go="$(med_of lat - go hog p99_us)"; fi
    r_off_all="$(ratio "$p99_off" "$p99_all")"
    r_go_all="$(ratio "$p99_go" "$p99_all")"
    echo
    printf 'beside the hog, p99 off / p99 all: %s (target >= 3: %s)\n' "$r_off_all" "$(verdict "$r_off_all" ">=" 3)"
    printf 'beside the hog, p99 go / p99 all:  %s (target >= 3: %s)\n' "$r_go_all" "$(verdict "$r_go_all" ">=" 3)"
fi

if (( do_sweep )); then
    echo
    printf 'handoff threshold sweep: MN_KERNEL_FEEDBACK=required,handoff MN_KF_HANDOFF_US=T beside the hog, the same service;\n'
    printf 'median [min..max] of %s run(s), microseconds\n' "$sweep_runs"
    fmt='%-12s %-22s %-22s %-22s %s\n'
    # shellcheck disable=SC2059
    printf "$fmt" threshold_us p50_us p99_us p999_us max_us
    # shellcheck disable=SC2059
    printf "$fmt" ------------ ---------------------- ---------------------- ---------------------- ----------------------
    for t in "${sweep_list[@]}"; do
        # shellcheck disable=SC2059
        printf "$fmt" "$t" "$(range_cell sweep "$t" handoff hog p50_us)" "$(range_cell sweep "$t" handoff hog p99_us)" \
            "$(range_cell sweep "$t" handoff hog p999_us)" "$(range_cell sweep "$t" handoff hog max_us)"
    done
fi

# The oversubscription comparisons, against off: also the rows of the JSON.
over_rows="$tmp/over-rows"   # tab-separated, one per case, metric, hog and config; the error last
# (read splits on tabs as on blanks: an empty field inside would shift the others)
: >"$over_rows"
spin_target=() metric_target=()
# spread_cell MEDIAN SPREAD COUNT: "median ±spread%" (the median alone for one run), or -.
spread_cell() {
    (( $3 > 0 )) || { echo -; return; }
    printf '%s%s\n' "$(num_fmt "$1")" "$([[ "$2" != - && $3 -gt 1 ]] && printf ' ±%s%%' "$2")"
}
if (( do_oversub )); then
    echo
    printf 'oversubscription at procs=%s: median ±spread of %s run(s) (spread = 100 * (max - min) / 2 / median, in percent);\n' "$procs" "$oversub_runs"
    printf 'hog: beside cpu_hog --threads %s; x off: the median over off'"'"'s (every metric is lower-is-better);\n' "$hog_threads"
    printf 'spinms: ms the Ms spent spinning, cpums: the process'"'"'s CPU ms (the runtime'"'"'s SCHED line at exit); cut: 100 * (1 - spinms / off'"'"'s)\n'
    fmt='%-13s %10s %-6s %-10s %-17s %-16s %7s %-15s %6s %-15s %7s\n'
    # shellcheck disable=SC2059
    printf "$fmt" workload n hog config metric value "x off" spinms cut cpums "x off"
    # shellcheck disable=SC2059
    printf "$fmt" ------------- ---------- ------ ---------- ----------------- ---------------- ------- --------------- ------ --------------- -------
    any_spin=0
    for c in "${cases[@]}"; do
        n_val="${case_args[$c]%% *}"; n_val="${n_val#*=}"
        rounds_val="null"
        [[ " ${case_args[$c]} " == *" rounds="* ]] && { rounds_val="${case_args[$c]##*rounds=}"; rounds_val="${rounds_val%% *}"; }
        for h in hog nohog; do
            for m in ${case_metrics[$c]}; do
                base_m=- base_s=- base_c=-
                if in_list off "${over_configs[@]}" && [[ -z "${failed["over $c off $h"]+x}" ]]; then
                    base_m="$(med_of over "$c" off "$h" "$m")"
                    base_s="$(med_of over "$c" off "$h" spinms)"
                    base_c="$(med_of over "$c" off "$h" cpums)"
                fi
                for cfg in "${over_configs[@]}"; do
                    err="${failed["over $c $cfg $h"]:-}"
                    read -r md _ _ sp cnt _ <<<"$(stats over "$c" "$cfg" "$h" "$m")"
                    read -r s_md _ _ s_sp s_cnt _ <<<"$(stats over "$c" "$cfg" "$h" spinms)"
                    read -r c_md _ _ c_sp c_cnt _ <<<"$(stats over "$c" "$cfg" "$h" cpums)"
                    (( s_cnt > 0 )) && any_spin=1
                    r_m="-" cut="-" r_c="-"
                    if [[ "$cfg" != off && -z "$err" ]]; then
                        r_m="$(ratio "$md" "$base_m")"
                        r_c="$(ratio "$c_md" "$base_c")"
                        cut="$(awk -v s="$s_md" -v b="$base_s" 'BEGIN {
                            if (s !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b + 0 <= 0) print "n/a"
                            else printf "%.0f", 100 * (1 - s / b) }')"
                    fi
                    value_cell="$(spread_cell "$md" "$sp" "$cnt")"
                    [[ -n "$err" ]] && value_cell=FAIL
                    # shellcheck disable=SC2059
                    printf "$fmt" "$c" "$(size_label "$c")" "$h" "$cfg" "$m" "$value_cell" "$r_m" \
                        "$(spread_cell "$s_md" "$s_sp" "$s_cnt")" "$( [[ "$cut" =~ ^-?[0-9] ]] && printf '%s%%' "$cut" || printf '%s' "$cut" )" \
                        "$(spread_cell "$c_md" "$c_sp" "$c_cnt")" "$r_c"
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                        "$c" "$m" "$(unit "$m")" "$n_val" "$rounds_val" "$h" "$cfg" "$r_m" "$cut" "$r_c" "$(kf_env "$cfg")" "${err//$'\t'/ }" >>"$over_rows"
                    if [[ "$cfg" == all ]]; then
                        if [[ "$h" == hog && "$m" == "${case_metrics[$c]%% *}" ]]; then
                            v="n/a"; [[ "$cut" =~ ^-?[0-9] ]] && v="$cut"
                            spin_target+=("$(printf '%-13s spin cut with the hog: %5s (target >= 50%%: %s)' "$c" "$( [[ "$v" != n/a ]] && printf '%s%%' "$v" || echo n/a )" "$(verdict "$v" ">=" 50)")")
                        elif [[ "$h" == nohog ]]; then
                            metric_target+=("$(printf '%-13s %s without the hog, all / off: %s (target <= 1.05: %s)' "$c" "$m" "$r_m" "$(verdict "$r_m" "<=" 1.05)")")
                        fi
                    fi
                done
            done
        done
    done
    echo
    if in_list off "${over_configs[@]}" && in_list all "${over_configs[@]}"; then
        printf 'targets, all against off:\n'
        printf '  %s\n' ${spin_target[@]+"${spin_target[@]}"} ${metric_target[@]+"${metric_target[@]}"}
    else
        printf 'targets: not judged (they compare all with off; --oversub-configs is %s)\n' "${over_configs[*]}"
    fi
    (( any_spin )) || printf 'note: no run reported spinms= or cpums= (the runtime in %s does not print them at exit yet)\n' "$build_dir"
fi
echo
printf 'mnsched: %s\n' "$build_dir/bench"
(( want_go )) && printf 'go: %s%s\n' "$go_version" "${go_cmd:+ ($go_cmd)}"
(( feedback )) || printf 'kernel feedback: unavailable: %s; only off and Go ran\n' "$feedback_note"

# --- the JSON -----------------------------------------------------------------------------------
# json_stats PART KEY CONFIG HOG FIELD: {"median", "min", "max", "spread", "runs"}, or null.
json_stats() {
    local md lo hi sp cnt list
    read -r md lo hi sp cnt list <<<"$(stats "$@")"
    if (( cnt == 0 )); then printf null; return; fi
    printf '{"median": %s, "min": %s, "max": %s, "spread": %s, "runs": [%s]}' \
        "$(json_num "$md")" "$(json_num "$lo")" "$(json_num "$hi")" "$(json_num "$sp")" "${list//,/, }"
}
json_err() { if [[ -n "${failed["$1"]+x}" ]]; then json_str "${failed["$1"]}"; else printf null; fi; }
write_json() {
    local sep f
    {
        printf '{"quick": %s, "procs": %s, "hog_threads": %s, "build_dir": %s, "go_version": %s,\n' \
            "$( ((quick)) && echo true || echo false )" "$procs" "$hog_threads" "$(json_str "$build_dir")" \
            "$( ((want_go)) && json_str "$go_version" || printf null )"
        printf ' "feedback_available": %s, "feedback_note": %s,\n' \
            "$( ((feedback)) && echo true || echo false )" "$( [[ -n "$feedback_note" ]] && json_str "$feedback_note" || printf null )"
        printf ' "latency": '
        if (( do_latency )); then
            printf '{"rate": %s, "seconds": %s, "warmup": %s, "work_us": %s, "fanout": %s, "runs": %s,\n  "configs": [' \
                "$rate" "$seconds" "$warmup" "$work_us" "$fanout" "$runs"
            sep=""
            for e in "${lat_entries[@]}"; do
                read -r c h <<<"$e"
                printf '%s\n   {"config": %s, "env": %s, "hog": %s' "$sep" "$(json_str "$c")" \
                    "$( [[ "$c" == go ]] && printf null || json_str "MN_KERNEL_FEEDBACK=$(kf_env "$c")" )" \
                    "$( [[ "$h" == hog ]] && echo true || echo false )"
                for f in "${lat_fields[@]}"; do printf ', "%s": %s' "$f" "$(json_stats lat - "$c" "$h" "$f")"; done
                printf ', "error": %s}' "$(json_err "lat - $c $h")"
                sep=","
            done
            printf '],\n  "p99_off_over_all": %s, "p99_go_over_all": %s},\n' "$(json_num "$r_off_all")" "$(json_num "$r_go_all")"
        else
            printf 'null,\n'
        fi
        printf ' "sweep": '
        if (( do_sweep )); then
            printf '{"runs": %s, "thresholds": [' "$sweep_runs"
            sep=""
            for t in "${sweep_list[@]}"; do
                printf '%s\n   {"handoff_us": %s' "$sep" "$t"
                for f in "${lat_fields[@]}"; do printf ', "%s": %s' "$f" "$(json_stats sweep "$t" handoff hog "$f")"; done
                printf ', "error": %s}' "$(json_err "sweep $t handoff hog")"
                sep=","
            done
            printf ']},\n'
        else
            printf 'null,\n'
        fi
        printf ' "oversub": '
        if (( do_oversub )); then
            printf '{"runs": %s, "configs": [%s], "rows": [' "$oversub_runs" \
                "$(sep=""; for c in "${over_configs[@]}"; do printf '%s%s' "$sep" "$(json_str "$c")"; sep=", "; done)"
            sep=""
            while IFS=$'\t' read -r c m u n r h cfg r_m cut r_c env_v err; do
                printf '%s\n   {"workload": %s, "metric": %s, "unit": %s, "n": %s, "rounds": %s, "hog": %s, "config": %s, "env": %s, ' \
                    "$sep" "$(json_str "$c")" "$(json_str "$m")" "$(json_str "$u")" "$(json_num "$n")" "$(json_num "$r")" \
                    "$( [[ "$h" == hog ]] && echo true || echo false )" "$(json_str "$cfg")" "$(json_str "MN_KERNEL_FEEDBACK=$env_v")"
                printf '"value": %s, "spinms": %s, "cpums": %s, ' "$(json_stats over "$c" "$cfg" "$h" "$m")" \
                    "$(json_stats over "$c" "$cfg" "$h" spinms)" "$(json_stats over "$c" "$cfg" "$h" cpums)"
                printf '"ratio_vs_off": %s, "spin_reduction_pct": %s, "cpu_ratio_vs_off": %s, "error": %s}' \
                    "$(json_num "$r_m")" "$(json_num "$cut")" "$(json_num "$r_c")" "$( [[ -n "$err" ]] && json_str "$err" || printf null )"
                sep=","
            done <"$over_rows"
            printf ']}}\n'
        else
            printf 'null}\n'
        fi
    } >"$1.tmp" && mv "$1.tmp" "$1"
}
if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    write_json "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi

# --- the charts ---------------------------------------------------------------------------------
# gp_run SCRIPT OUT: draw; gnuplot reports some errors without failing.
gp_run() {
    gnuplot "$1" 2>"$tmp/gnuplot.err" || { sed 's/^/  | /' "$tmp/gnuplot.err" >&2; return 1; }
    if grep -qiE 'error|warning' "$tmp/gnuplot.err"; then sed 's/^/  | /' "$tmp/gnuplot.err" >&2; fi
    [[ -s "$2" ]]
}
# Grouped bars, one group per row of DATA ("index<TAB>label<TAB>v1<TAB>v2..."), one bar per
# series; NaN leaves a bar out. gp_bars DATA SERIES_TITLES... prints the plot command.
gp_bars() {
    local data="$1"; shift
    local k=$# i=0 w off col colors=('#3a7dc9' '#e08a2c' '#c0392b' '#2e9e5b' '#8e44ad' '#7f8c8d')
    w="$(awk -v k="$k" 'BEGIN { printf "%.3f", 0.8 / k / 2 }')"
    local plots=()
    for title in "$@"; do
        off="$(awk -v i="$i" -v k="$k" 'BEGIN { printf "%.3f", (i - (k - 1) / 2) * 0.8 / k }')"
        col=$((i + 3))
        plots+=("'$data' using (\$1+($off)):$col:(\$1+($off)-$w):(\$1+($off)+$w):(ybase):$col with boxxyerror lc rgb '${colors[i % 6]}' title '$title'")
        plots+=("'' using (\$1+($off)):$col:(sprintf(\$$col < 100 ? '%.1f' : '%.0f', \$$col)) with labels offset 0,0.6 font ',7' notitle")
        i=$((i + 1))
    done
    local IFS=,
    printf 'plot %s\n' "${plots[*]}"
}
draw_latency() {
    local out="$1" data="$tmp/lat.tsv" script="$tmp/lat.gp" rows i=0 e c h v f lo
    : >"$data"
    for e in "${lat_entries[@]}"; do
        read -r c h <<<"$e"
        printf '%d\t%s' "$i" "$c$( [[ "$h" == nohog ]] && echo ' (no hog)')" >>"$data"
        for f in p50_us p99_us p999_us; do
            v="$(med_of lat - "$c" "$h" "$f")"
            if ! is_num "$v" || [[ -n "${failed["lat - $c $h"]+x}" ]]; then v=NaN; fi
            printf '\t%s' "$v" >>"$data"
        done
        printf '\n' >>"$data"
        i=$((i + 1))
    done
    rows=$i
    awk -F '\t' '$3 != "NaN" || $4 != "NaN" || $5 != "NaN"' "$data" | grep -q . || return 2
    # The bars rise from the power of ten below the smallest value (the log scale has no 0).
    lo="$(awk -F '\t' 'BEGIN { m = 1e18 } { for (i = 3; i <= 5; i++) if ($i != "NaN" && $i + 0 > 0 && $i + 0 < m) m = $i + 0 }
                        END { e = int(log(m) / log(10)); if (10 ^ e > m) e--; print 10 ^ e }' "$data")"
    {
        gp_terminal "$(( rows * 110 < 900 ? 900 : rows * 110 ))" 600
        printf 'set output "%s"\n' "$out"
        printf 'set datafile separator "\\t"\n'
        printf 'set title "latency service, %s\\nbeside cpu_hog --threads %s unless (no hog); median of %s run(s)%s"\n' \
            "$service_desc" "$hog_threads" "$runs" "$( ((quick)) && echo ', quick: not a measurement')"
        printf 'set ylabel "latency, microseconds (log scale)"\n'
        printf 'ybase = %s\nset logscale y\nset yrange [ybase:*]\nset format y "%%.0f"\n' "$lo"
        printf 'set xrange [-0.6:%s]\n' "$rows-0.4"
        printf 'set xtics (%s) nomirror\n' "$(awk -F '\t' '{ printf "%s\"%s\" %d", (NR > 1 ? ", " : ""), $2, $1 }' "$data")"
        printf 'set grid ytics\nset key outside right top\nset style fill solid 0.85 border -1\n'
        gp_bars "$data" p50 p99 p999
    } >"$script"
    gp_run "$script" "$out"
}
draw_spin() {
    local out="$1" data="$tmp/spin.tsv" script="$tmp/spin.gp" rows i=0 c cfg v
    : >"$data"
    for c in "${cases[@]}"; do
        printf '%d\t%s' "$i" "$c" >>"$data"
        for cfg in "${over_configs[@]}"; do
            v="$(med_of over "$c" "$cfg" hog spinms)"
            if ! is_num "$v" || [[ -n "${failed["over $c $cfg hog"]+x}" ]]; then v=NaN; fi
            printf '\t%s' "$v" >>"$data"
        done
        printf '\n' >>"$data"
        i=$((i + 1))
    done
    rows=$i
    awk -F '\t' '{ for (i = 3; i <= NF; i++) if ($i != "NaN") { print; exit } }' "$data" | grep -q . || return 2
    {
        gp_terminal "$(( rows * 130 < 800 ? 800 : rows * 130 ))" 560
        printf 'set output "%s"\n' "$out"
        printf 'set datafile separator "\\t"\n'
        printf 'set title "time the Ms spent spinning, beside cpu_hog --threads %s, procs=%s\\nmedian of %s run(s)%s"\n' \
            "$hog_threads" "$procs" "$oversub_runs" "$( ((quick)) && echo ', quick sizes: not a measurement')"
        printf 'set ylabel "spinning, ms (all Ms together)"\n'
        printf 'ybase = 0\nset yrange [0:*]\n'
        printf 'set xrange [-0.6:%s]\n' "$rows-0.4"
        printf 'set xtics (%s) nomirror\n' "$(awk -F '\t' '{ printf "%s\"%s\" %d", (NR > 1 ? ", " : ""), $2, $1 }' "$data")"
        printf 'set grid ytics\nset key outside right top\nset style fill solid 0.85 border -1\n'
        gp_bars "$data" "${over_configs[@]}"
    } >"$script"
    gp_run "$script" "$out"
}
chart_failed=0
if [[ "$plot_dir" != none ]] && (( do_latency || do_oversub )); then
    if ! command -v gnuplot >/dev/null 2>&1; then
        printf 'charts: none: gnuplot is not installed (Debian: gnuplot-nox)\n'
    else
        mkdir -p "$plot_dir"
        for chart in latency spin; do
            [[ "$chart" == latency ]] && { (( do_latency )) || continue; }
            [[ "$chart" == spin ]] && { (( do_oversub )) || continue; }
            png="$plot_dir/kfeedback-$chart.png"
            rc=0
            if [[ "$chart" == latency ]]; then draw_latency "$png" || rc=$?; else draw_spin "$png" || rc=$?; fi
            if (( rc == 0 )); then
                printf 'chart: %s\n' "${png#"$repo_root"/}"
            elif (( rc == 2 )); then
                printf 'chart: no %s (nothing to draw%s)\n' "${png#"$repo_root"/}" \
                    "$( [[ "$chart" == spin ]] && echo ': no run reported spinms=')"
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
