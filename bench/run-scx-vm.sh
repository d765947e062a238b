#!/usr/bin/env bash
# The evaluation of the sched_ext scheduler (docs/kernel-feedback.md, "sched_ext: evaluation
# in the VM"): bench/latency_service beside bench/cpu_hog in four modes, all inside ONE boot
# of the VM of tests/vm/run.sh (Debian unstable's kernel, which has sched_ext, under qemu
# TCG). TCG's time is emulated and its speed drifts with the host's load, so the modes are
# compared only within one boot, never with another boot or with the host.
#
#   mode           MN_KERNEL_FEEDBACK    besides the service and the hog
#   off            off                   -
#   feedback       required,all          - (the telemetry-driven policies: handoff and spin)
#   scx            required,telemetry    mnsched-scx --full --all --interval=10ms --stats
#   scx+feedback   required,all          mnsched-scx --full --all --interval=10ms --stats
#
# and, to tell the two policies apart (not in the default list): handoff and spin
# (required,handoff and required,spin), and scx+handoff and scx+spin (the same, with
# mnsched-scx).
#
# mnsched-scx runs in full mode (every task of the guest in the scheduler, ops
# "mnsched_all"): in partial mode only the Ms are in the sched_ext class, which the kernel
# ranks below the fair class, so a fair-class hog always outranks them. It is started
# before the service (the run waits until /sys/kernel/sched_ext/state reads "enabled") and
# stopped after it (the next run waits for "disabled"); the hog is started before
# mnsched-scx and stopped last.
#
#   bench/run-scx-vm.sh [--quick] [--rounds N] [--modes LIST] [--rate R] [--work-us U]
#                       [--seconds S] [--warmup W] [--fanout F] [--hog-threads N]
#                       [--interval D] [--cpus N] [--build-dir DIR] [--no-build]
#                       [--timeout SEC] [--offline] [--nice N] [--save NAME] [--plot-dir DIR]
#                       [--log FILE]
#
#   --quick            the smoke run, not a measurement: 1 round, the service for 1 s
#                      without warm-up; writes no results file and no chart unless --save or
#                      --plot-dir is given
#   --rounds N         rounds (default 3; with --quick, 1). Each round runs every mode once,
#                      the order rotated by one from round to round, so that a drift of the
#                      emulation falls on all modes
#   --modes LIST       the modes, comma- or blank-separated (default "off feedback scx
#                      scx+feedback"). An scx mode may carry a slice for class OTHER,
#                      passed to mnsched-scx --other_slice: "scx+feedback@3ms"; variants of
#                      one mode run side by side in the same boot
#   --rate R, --work-us U, --seconds S, --warmup W, --fanout F
#                      the service's flags: requests per second (default 1000), CPU
#                      microseconds per request (default 100), measured seconds (default 5;
#                      with --quick, 1), seconds not measured first (default 1; with
#                      --quick, 0), Gs per request (default 2). The defaults keep the guest
#                      well below saturation without the hog under TCG (see the docs)
#   --hog-threads N    cpu_hog's --threads (default 2)
#   --interval D       mnsched-scx's --interval (how often it looks for new runtimes and
#                      prints --stats), 10ms to 1s (default 10ms)
#   --cpus N           guest CPUs (default 2; the service runs with as many Ps)
#   --build-dir DIR    CMake build dir (default build/release, relative to the repo root):
#                      holds bench/latency_service, bench/cpu_hog and tools/mnsched-scx
#   --no-build         use the binaries as they are (default: bring them up to date first)
#   --timeout SEC      kill the VM after this long (default: an estimate from the runs, at
#                      least 300)
#   --offline          pass --offline to tests/vm/run.sh (only the cached kernel, no network)
#   --nice N           qemu's niceness on the host (default -20 as root, else 0): the host's
#                      other work (a build, say) then delays the emulation less. Whatever is
#                      left is measured: each run reports host_wait_pct, the share of its
#                      measured seconds qemu's threads spent waiting for a host CPU
#                      (tests/vm/run.sh --host-wait), so that a round spoilt by the host
#                      shows as such
#   --save NAME        results file bench/results/NAME.json (default "scx-vm"; with --quick,
#                      none); --save none writes nothing
#   --plot-dir DIR     where the chart goes (default docs/img; with --quick or --save none,
#                      none):
#                      scx-vm-latency.png, p50 and p99 per mode, the median with min..max
#                      error bars. Drawn with gnuplot; without it the chart is skipped
#   --log FILE         also keep the guest's whole output (every run's lines, the mnsched-scx
#                      --stats lines, the kernel's sched_ext messages) in FILE
#
# MN_SCX_DEBUG=1 in the caller's environment reaches the guest (tests/vm/run.sh passes MN_*
# on): mnsched-scx then prints libbpf's log, which shows in the run's errors.
#
# Figures per run: p50, p99, p999 and max latency (µs) from the service's line, and the
# throughput: the service's own rps= is the measured requests over the nominal window, which
# an open-loop service always meets, so the throughput here is the measured requests over
# the window plus the slowest request's latency (every measured request is due in the window
# and done at most that long after it ends): a lower bound on what was sustained, below the
# rate only when requests queue up. The service's rps= and its process's wall time in the
# guest are kept in the JSON too.
#
# Output: a line per run as it is parsed, then the table: per mode, median [min..max] over
# the rounds of p50, p99 and throughput, the mode with the lowest median p99 and the verdict
# on the target (scx+feedback has the lowest p99 of the four).
#
# Results (bench/results/NAME.json): a JSON object
#   {"quick", "command", "kernel", "guest_cpus", "procs", "vm": {"accel", "cpus", "seconds"},
#    "service": {"rate", "seconds", "warmup", "work_us", "fanout"}, "hog_threads",
#    "scx_command", "rounds", "order": [[mode, ...] per round],
#    "modes": [{"mode", "env", "scx", "p50_us", "p99_us", "p999_us", "max_us", "rps",
#               "throughput_rps", "wall_s", "runs": [{"round", "position", "p50_us", ...,
#               "error", "scx": {"ops", "stats_lines", "stats_mean": {...}, "last_stats"}
#               or null}]}],
#    "lowest_p99", "target_met", "sched_ext_log": [kernel lines]}
# where each figure is {"median", "min", "max", "spread", "runs": [...]} (spread: 100 *
# (max - min) / 2 / median, in percent), null without values.
#
# Exit status: 0 when every run succeeded, whatever the figures; 1 when a run failed (the
# service's exit status, a scheduler that did not load or was ejected: the message is
# printed and kept in the JSON), the VM failed, the build failed or gnuplot failed; 2 on bad
# arguments; 77 when the VM cannot run here (no qemu, no kernel cached and no network: the
# reason is printed).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-scx-vm: %s\n' "$*" >&2
    printf 'usage: bench/run-scx-vm.sh [--quick] [--rounds N] [--modes LIST] [--rate R] [--work-us U] [--seconds S] [--warmup W] [--fanout F] [--hog-threads N] [--interval D] [--cpus N] [--build-dir DIR] [--no-build] [--timeout SEC] [--offline] [--nice N] [--save NAME] [--plot-dir DIR] [--log FILE]\n' >&2
    exit 2
}
die() { printf 'run-scx-vm: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-scx-vm: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
orig_args=("$@")
# parse_opts, need_value, is_pos_int, split_list, configure_tree, tree_targets, build_targets,
# summarize_values, is_num
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"

# --- arguments ------------------------------------------------------------------------
quick=0 rounds="" modes_arg="off feedback scx scx+feedback"
rate=1000 work_us=100 seconds="" warmup="" fanout=2 hog_threads=2
interval=10ms cpus=2 build_dir="build/release" do_build=1 timeout_s="" offline=0
save="" plot_dir="" log_file="" nice_arg=""

parse_opts '
    --quick        quick=1
    --rounds       =rounds
    --modes        =modes_arg
    --rate         =rate
    --work-us      =work_us
    --seconds      =seconds
    --warmup       =warmup
    --fanout       =fanout
    --hog-threads  =hog_threads
    --interval     =interval
    --cpus         =cpus
    --build-dir    =build_dir
    --no-build     do_build=0
    --timeout      =timeout_s
    --offline      offline=1
    --save         =save
    --plot-dir     =plot_dir
    --nice         =nice_arg
    --log          =log_file' "$@"

if [[ -z "$rounds" ]]; then
    rounds=$(( quick ? 1 : 3 ))
else
    { is_pos_int "$rounds" && (( rounds <= 50 )); } || bad_arg "--rounds must be 1 to 50, got '$rounds'"
fi
if [[ -z "$seconds" ]]; then
    seconds=$(( quick ? 1 : 5 ))
else
    { is_pos_int "$seconds" && (( seconds <= 600 )); } || bad_arg "--seconds must be 1 to 600, got '$seconds'"
fi
if [[ -z "$warmup" ]]; then
    warmup=$(( quick ? 0 : 1 ))
else
    [[ "$warmup" =~ ^(0|[1-9][0-9]{0,2})$ ]] || bad_arg "--warmup must be 0 to 999 seconds, got '$warmup'"
fi
# The service's own limits (bench/latency_service.cpp), so that a bad value stops here.
{ is_pos_int "$rate" && (( rate <= 1000000 )); } || bad_arg "--rate must be 1 to 1000000 requests per second, got '$rate'"
[[ "$work_us" =~ ^(0|[1-9][0-9]{0,5})$ ]] || bad_arg "--work-us must be 0 to 999999 microseconds, got '$work_us'"
{ is_pos_int "$fanout" && (( fanout <= 64 )); } || bad_arg "--fanout must be 1 to 64, got '$fanout'"
{ is_pos_int "$hog_threads" && (( hog_threads <= 64 )); } || bad_arg "--hog-threads must be 1 to 64, got '$hog_threads'"
{ is_pos_int "$cpus" && (( cpus <= 64 )); } || bad_arg "--cpus must be 1 to 64, got '$cpus'"
if [[ "$interval" =~ ^([1-9][0-9]*)ms$ ]]; then
    (( BASH_REMATCH[1] >= 10 && BASH_REMATCH[1] <= 1000 )) || bad_arg "--interval must be 10ms to 1000ms (or 1s), got '$interval'"
elif [[ "$interval" != 1s ]]; then
    bad_arg "--interval must be a duration in ms (10ms to 1000ms) or 1s, got '$interval'"
fi
if [[ -n "$timeout_s" ]]; then
    { is_pos_int "$timeout_s" && (( timeout_s >= 60 )); } || bad_arg "--timeout must be at least 60 seconds, got '$timeout_s'"
fi
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
if [[ -z "$save" ]]; then
    save=$( ((quick)) && echo none || echo scx-vm )
elif [[ "$save" != none ]]; then
    [[ "$save" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] \
        || bad_arg "--save: '$save' is not a plain file name (letters, digits, . _ -)"
fi
# A screening run (--quick, or --save none) leaves the published chart alone unless asked.
[[ -n "$plot_dir" ]] || plot_dir=$( ((quick)) || [[ "$save" == none ]] && echo none || echo docs/img )
if [[ -n "$log_file" ]]; then
    [[ -d "$(dirname -- "$log_file")" ]] || bad_arg "--log $log_file: directory $(dirname -- "$log_file") does not exist"
fi

if [[ -z "$nice_arg" ]]; then
    nice_arg=$( (( EUID == 0 )) && echo -20 || echo 0 )
elif ! [[ "$nice_arg" =~ ^-?[0-9]+$ ]] || (( nice_arg < -20 || nice_arg > 19 )); then
    bad_arg "--nice $nice_arg: expected -20..19"
elif (( nice_arg < 0 && EUID != 0 )); then
    bad_arg "--nice $nice_arg: a negative niceness needs root"
fi

# The four of the target, then one policy at a time (to tell their effects apart).
all_modes=(off feedback scx scx+feedback handoff spin scx+handoff scx+spin)
modes=()
split_list modes "$modes_arg"
[[ ${#modes[@]} -gt 0 ]] || bad_arg "--modes: empty list"
seen=" "
is_scx() { [[ "$(base_mode "$1")" == scx || "$(base_mode "$1")" == scx+* ]]; }
# A mode's base: "scx@3ms" is scx with mnsched-scx --other_slice=3ms.
base_mode() { printf '%s' "${1%%@*}"; }
for m in "${modes[@]}"; do
    case " ${all_modes[*]} " in *" $(base_mode "$m") "*) ;; *) bad_arg "--modes: unknown mode '$m' (one of ${all_modes[*]}, the scx ones optionally with @SLICE)" ;; esac
    if [[ "$m" == *@* ]]; then
        is_scx "$m" || bad_arg "--modes: '$m': only scx and scx+feedback take @SLICE"
        [[ "${m#*@}" =~ ^[1-9][0-9]*(us|ms|s)$ ]] || bad_arg "--modes: '$m': the slice must be a whole number of us, ms or s, like 3ms"
    fi
    [[ "$seen" != *" $m "* ]] || bad_arg "--modes: '$m' is listed twice"
    seen+="$m "
done
# Keep the canonical order of the bases whatever the list's; variants of one base as given.
ordered=()
for b in "${all_modes[@]}"; do
    for m in "${modes[@]}"; do [[ "$(base_mode "$m")" == "$b" ]] && ordered+=("$m"); done
done
modes=("${ordered[@]}")
nmodes=${#modes[@]}

kf_env() {
    case "$(base_mode "$1")" in
        off) echo off ;;
        feedback|scx+feedback) echo required,all ;;
        handoff|scx+handoff) echo required,handoff ;;
        spin|scx+spin) echo required,spin ;;
        scx) echo required,telemetry ;;
    esac
}

[[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
build_dir="${build_dir%/}"
if [[ "$plot_dir" != none ]]; then
    [[ "$plot_dir" == /* ]] || plot_dir="$repo_root/$plot_dir"
    plot_dir="${plot_dir%/}"
fi
results_dir="$repo_root/bench/results"
# shellcheck disable=SC2034  # read by bench-lib.sh's configure_tree and build_targets
preset_dir="$repo_root/build/release"

# --- building -----------------------------------------------------------------------------
lat_bin="$build_dir/bench/latency_service"
hog_bin="$build_dir/bench/cpu_hog"
scx_bin="$build_dir/tools/mnsched-scx"
targets=(latency_service cpu_hog mnsched-scx)
if (( do_build )); then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        configure_tree || die "configuring $build_dir failed"
    fi
    build_targets "${targets[@]}" || die "building ${targets[*]} in $build_dir failed"
fi
for b in "$lat_bin" "$hog_bin" "$scx_bin"; do
    [[ -x "$b" ]] || die "no $b$( ((do_build)) && echo ' after the build' || echo ' (drop --no-build to build it)')"
done
build_s=$(( SECONDS - start_s ))

# --- the guest's script ---------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mnsched-scx-vm.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The run list: round r runs the modes rotated left by r-1.
run_list=()
order_json=""
for (( r = 1; r <= rounds; r++ )); do
    row=""
    for (( k = 0; k < nmodes; k++ )); do
        m="${modes[$(( (k + r - 1) % nmodes ))]}"
        run_list+=("$r:$m")
        row+="${row:+, }\"$m\""
    done
    order_json+="${order_json:+, }[$row]"
done

guest="$tmp/guest.sh"
{
    printf '#!/bin/sh\n# Written by bench/run-scx-vm.sh: the runs, inside the VM.\n'
    printf 'LAT=%q HOG=%q SCX=%q\n' "$lat_bin" "$hog_bin" "$scx_bin"
    printf 'RATE=%s SECS=%s WARMUP=%s WORK=%s FANOUT=%s HOGT=%s INTERVAL=%s\n' \
        "$rate" "$seconds" "$warmup" "$work_us" "$fanout" "$hog_threads" "$interval"
    printf 'RUNS="%s"\n' "${run_list[*]}"
    cat <<'EOF'
set -u
up() { cut -d' ' -f1 /proc/uptime; }
state() { cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent; }
# wait_state WORD SECONDS: until the sched_ext state reads WORD; 1 if it never does.
wait_state() {
  n=0
  while [ "$(state)" != "$1" ]; do
    n=$((n + 1))
    [ $n -le $(($2 * 10)) ] || return 1
    sleep 0.1
  done
  return 0
}
# prefix TAG FILE [MAX]: the file's lines, each after "@TAG ".
prefix() { [ -s "$2" ] && head -n "${3:-40}" "$2" | sed "s/^/@$1 /"; return 0; }

cpus=$(grep -c '^processor' /proc/cpuinfo)
echo "@info kernel=$(uname -r) cpus=$cpus sched_ext=$(state) boot_s=$(up)"
seq=0
for item in $RUNS; do
  seq=$((seq + 1))
  round=${item%%:*}
  mode=${item#*:}
  scx=0
  slice=
  case $mode in *@*) slice="--other_slice=${mode#*@}" ;; esac
  case ${mode%%@*} in
    off) kf=off ;;
    feedback) kf=required,all ;;
    handoff) kf=required,handoff ;;
    spin) kf=required,spin ;;
    scx) kf=required,telemetry; scx=1 ;;
    scx+feedback) kf=required,all; scx=1 ;;
    scx+handoff) kf=required,handoff; scx=1 ;;
    scx+spin) kf=required,spin; scx=1 ;;
  esac
  d=/tmp/run.$seq
  mkdir -p $d
  err=
  if [ "$(state)" != disabled ] && ! wait_state disabled 30; then
    err="sched_ext state is $(state) before the run, not disabled"
  fi
  "$HOG" --threads "$HOGT" --seconds 3600 </dev/null >/dev/null 2>$d/hog.err &
  hogpid=$!
  sleep 0.5
  kill -0 $hogpid 2>/dev/null || err="${err:+$err; }cpu_hog --threads $HOGT ended at once: $(head -c 300 $d/hog.err)"
  scxpid=
  ops=
  if [ $scx = 1 ] && [ -z "$err" ]; then
    t=$(up)
    "$SCX" --full --all --interval="$INTERVAL" --stats $slice </dev/null >$d/scx.out 2>$d/scx.err &
    scxpid=$!
    # Loading (the verifier) is slow under TCG.
    n=0
    while [ "$(state)" != enabled ]; do
      if ! kill -0 $scxpid 2>/dev/null; then
        wait $scxpid; rc=$?
        err="mnsched-scx exited ($rc) before sched_ext was enabled: $(tr '\n' ' ' <$d/scx.err | head -c 600)"
        scxpid=
        break
      fi
      n=$((n + 1))
      if [ $n -gt 1200 ]; then
        err="sched_ext not enabled 120 s after mnsched-scx started (state $(state))"
        break
      fi
      sleep 0.1
    done
    if [ -z "$err" ]; then
      ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
      echo "@scxload seq=$seq seconds=$(awk -v a="$t" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }') ops=${ops:-none}"
    fi
  fi
  rc=
  wall=
  if [ -z "$err" ]; then
    t0=$(up)
    MN_KERNEL_FEEDBACK=$kf timeout -s KILL $((SECS + WARMUP + 120)) "$LAT" --rate "$RATE" --seconds "$SECS" \
      --warmup "$WARMUP" --work-us "$WORK" --fanout "$FANOUT" </dev/null >$d/lat.out 2>$d/lat.err
    rc=$?
    wall=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }')
    [ $rc = 0 ] || err="latency_service exited with status $rc$([ $rc = 137 ] && echo ' (killed: timed out)')"
    if [ -n "$scxpid" ] && ! kill -0 $scxpid 2>/dev/null; then
      err="${err:+$err; }mnsched-scx ended during the run (sched_ext state $(state))"
    elif [ $scx = 1 ] && [ "$(state)" != enabled ]; then
      err="${err:+$err; }sched_ext state $(state) at the end of the run, not enabled"
    fi
  fi
  scxrc=
  if [ -n "$scxpid" ]; then
    kill -TERM $scxpid 2>/dev/null
    wait $scxpid; scxrc=$?
    wait_state disabled 30 || err="${err:+$err; }sched_ext still $(state) 30 s after mnsched-scx stopped"
  fi
  kill $hogpid 2>/dev/null
  wait $hogpid 2>/dev/null
  echo "@run seq=$seq round=$round mode=$mode rc=${rc:-none} t0=${t0:-none} wall_s=${wall:-none} scx_rc=${scxrc:-none} ops=${ops:-none}"
  [ -z "$err" ] || echo "@error seq=$seq $err"
  prefix lat $d/lat.out 5
  prefix laterr $d/lat.err 40
  if [ $scx = 1 ]; then
    prefix scxerr $d/scx.err 200
    grep -v '^runtimes ' $d/scx.out 2>/dev/null | sed "s/^/@scxout seq=$seq /"
    # --stats lines: the mean of each figure over the lines that served a runtime.
    awk -v seq=$seq '
      $1 == "runtimes" {
        total++
        if ($2 + 0 < 1) next
        line = $0; gsub(/[()]/, " ", line); n = split(line, w, /[ \t]+/); k = 0
        for (i = 1; i <= n; i++) if (w[i] ~ /^[0-9.]+$/) { k++; s[k] += w[i] }
        if (k > nk) nk = k
        lines++; last = $0
      }
      END {
        printf "@scxstats seq=%s lines=%d served=%d", seq, total, lines
        for (i = 2; i <= nk; i++) printf " %.1f", (lines ? s[i] / lines : 0)
        printf "\n"
        if (last != "") printf "@scxlast seq=%s %s\n", seq, last
      }' $d/scx.out
  fi
  rm -rf $d
done
echo "@dmesg-begin"
dmesg | grep -i 'sched_ext' | tail -n 40 | sed 's/^/@dmesg /'
echo "@end uptime_s=$(up)"
EOF
} >"$guest"

# --- the VM -----------------------------------------------------------------------------------
nruns=${#run_list[@]}
# Under TCG: the boot, then per run the service's span, its start (loading the BPF programs)
# and, for the scx modes, loading the scheduler; generous.
est=$(( 60 + nruns * (seconds + warmup + 25) ))
if [[ -z "$timeout_s" ]]; then
    timeout_s=$(( est * 3 < 300 ? 300 : est * 3 ))
fi
vm_args=(--no-install --timeout "$timeout_s" --cpus "$cpus"
         --with "$lat_bin" --with "$hog_bin" --with "$scx_bin" --with "$guest"
         --cmd "sh $guest" --nice "$nice_arg" --host-wait "$tmp/hostwait")
(( offline )) && vm_args+=(--offline)
command_line="bench/run-scx-vm.sh${orig_args[*]:+ ${orig_args[*]}}"
log "$nruns runs ($rounds round(s) of ${modes[*]}), service --rate $rate --work-us $work_us --fanout $fanout --seconds $seconds --warmup $warmup beside cpu_hog --threads $hog_threads, in one VM boot ($cpus vCPUs, TCG); about $(( est / 60 + 1 )) min, VM timeout ${timeout_s}s"
log "running: bash tests/vm/run.sh ${vm_args[*]}"
# Another qemu on the machine takes host CPU from this one: TCG then runs slower and the
# figures drift. Said, not refused (it may be another user's, and the rounds spread it).
if pgrep -f '^qemu-system' >/dev/null 2>&1; then
    log "warning: another qemu is running on this machine (pgrep -f '^qemu-system'); the emulation will be slower and noisier"
fi
vm_out="$tmp/vm.out"
vm_err="$tmp/vm.err"
t_vm=$SECONDS
rc=0
bash "$repo_root/tests/vm/run.sh" "${vm_args[@]}" >"$vm_out" 2>"$vm_err" || rc=$?
vm_s=$(( SECONDS - t_vm ))
[[ -z "$log_file" ]] || cp -- "$vm_out" "$log_file"
if (( rc == 77 )); then
    sed 's/^/  | /' "$vm_err" >&2
    printf 'run-scx-vm: SKIPPED: the VM cannot run here (tests/vm/run.sh said why, above)\n' >&2
    exit 77
fi
if (( rc != 0 )) || ! grep -q '^@end ' "$vm_out"; then
    sed 's/^/  | /' "$vm_err" >&2
    tail -n 30 "$vm_out" | sed 's/^/  > /' >&2
    die "the VM run failed (tests/vm/run.sh exited $rc$( grep -q '^@end ' "$vm_out" || echo ', and the guest did not finish its runs')); its messages and the guest's last lines are above"
fi

# --- parsing ------------------------------------------------------------------------------------
declare -A val=() err_of=() scx_of=() pos_of=()
kernel="$(sed -n 's/^@info kernel=\([^ ]*\).*/\1/p' "$vm_out" | head -n 1)"
guest_cpus="$(sed -n 's/^@info .* cpus=\([0-9]*\).*/\1/p' "$vm_out" | head -n 1)"
procs=""
failures=0
fields=(p50_us p99_us p999_us max_us rps throughput_rps wall_s host_wait_pct)
stat_names=(enq_run enq_other enq_spin direct_idle prev_cpu_idle kicks spin_yields slice_extensions dispatched_run dispatched_other dispatched_spin spin_wakeups)

# kv KEY LINE: the value of KEY=... in LINE.
kv() { sed -n "s/.*[ @]$1=\\([^ ]*\\).*/\\1/p" <<<" $2" | head -n 1; }

# The host's clock against the guest's: tests/vm/run.sh --host-wait's samples carry the
# bytes of guest output so far, so the first sample that has the @info line dates it on
# the host (to within a sample, 0.25 s); its boot_s is the guest's uptime then.
guest_to_host=""
info_end="$(grep -b -m 1 '^@info ' "$vm_out" | awk -F: '{ print $1 + length($0) - length($1) }')"
boot_s="$(sed -n 's/^@info .* boot_s=\([0-9.]*\).*/\1/p' "$vm_out" | head -n 1)"
if [[ -s "$tmp/hostwait" && -n "$info_end" && -n "$boot_s" ]]; then
    guest_to_host="$(awk -v e="$info_end" -v b="$boot_s" '$3 >= e { printf "%.3f", $1 - b; exit }' "$tmp/hostwait")"
fi
# host_wait_pct T0 WALL: the share (%) of the guest's uptime span [T0 + warmup, T0 + WALL]
# that qemu's threads waited for a host CPU, from the samples around it (linear between).
host_wait_pct() {
    [[ -n "$guest_to_host" ]] && is_num "$1" && is_num "$2" || return 0
    awk -v a="$(awk -v o="$guest_to_host" -v t="$1" -v w="$warmup" 'BEGIN { printf "%.3f", o + t + w }')" \
        -v b="$(awk -v o="$guest_to_host" -v t="$1" -v w="$2" 'BEGIN { printf "%.3f", o + t + w }')" '
        function at(x,   i) {
            if (x <= t[1]) return d[1]
            for (i = 2; i <= n; i++) if (x <= t[i]) return d[i-1] + (d[i] - d[i-1]) * (x - t[i-1]) / (t[i] - t[i-1])
            return d[n]
        }
        { n++; t[n] = $1; d[n] = $2 }
        END { if (n < 2 || b <= a || b > t[n] + 1) exit; printf "%.1f", (at(b) - at(a)) / 1e9 / (b - a) * 100 }' "$tmp/hostwait"
}

for (( s = 1; s <= nruns; s++ )); do
    item="${run_list[$((s - 1))]}"
    r="${item%%:*}" m="${item#*:}"
    pos_of["$m $r"]=$(( (s - 1) % nmodes + 1 ))
    runline="$(grep "^@run seq=$s " "$vm_out" || true)"
    if [[ -z "$runline" ]]; then
        err_of["$m $r"]="no result from the guest"
        failures=$((failures + 1))
        continue
    fi
    e="$(sed -n "s/^@error seq=$s //p" "$vm_out")"
    lat="$(awk -v s="$s" '$1 == "@run" { on = ($2 == "seq=" s) } on && $1 == "@lat" && $2 == "latency_service"' "$vm_out" | sed 's/^@lat //' | head -n 1)"
    [[ -n "$lat" || -n "$e" ]] || e="no latency_service line in the output"
    if [[ -n "$lat" ]]; then
        [[ -n "$procs" ]] || procs="$(kv procs "$lat")"
        for f in p50_us p99_us p999_us max_us rps; do val["$m $r $f"]="$(kv "$f" "$lat")"; done
        n="$(kv n "$lat")"
        val["$m $r throughput_rps"]="$(awk -v n="$n" -v s="$seconds" -v mx="${val["$m $r max_us"]}" 'BEGIN { printf "%.1f", n / (s + mx / 1e6) }')"
        val["$m $r wall_s"]="$(kv wall_s "$runline")"
        val["$m $r host_wait_pct"]="$(host_wait_pct "$(kv t0 "$runline")" "${val["$m $r wall_s"]}")"
    fi
    if is_scx "$m"; then
        st="$(sed -n "s/^@scxstats seq=$s //p" "$vm_out")"
        last="$(sed -n "s/^@scxlast seq=$s //p" "$vm_out")"
        load="$(sed -n "s/^@scxload seq=$s //p" "$vm_out")"
        scx_of["$m $r"]="$(kv ops "$runline")|$(kv seconds "$load")|$st|$last|$(kv scx_rc "$runline")"
    fi
    if [[ -n "$e" ]]; then
        err_of["$m $r"]="$e"
        failures=$((failures + 1))
        printf '%-13s round %d: FAILED: %s\n' "$m" "$r" "$e"
        # The run's messages: the service's and mnsched-scx's stderr.
        awk -v s="$s" '$1 == "@run" { on = ($2 == "seq=" s) } on && ($1 == "@laterr" || $1 == "@scxerr")' "$vm_out" \
            | sed 's/^@[a-z]* /  | /' | head -n 60
    else
        printf '%-13s round %d: p50 %8s us  p99 %8s us  p999 %8s us  max %8s us  throughput %7s/s  (wall %s s, host wait %s%%)\n' \
            "$m" "$r" "${val["$m $r p50_us"]}" "${val["$m $r p99_us"]}" "${val["$m $r p999_us"]}" \
            "${val["$m $r max_us"]}" "${val["$m $r throughput_rps"]}" "${val["$m $r wall_s"]}" "${val["$m $r host_wait_pct"]:-?}"
    fi
done

# stats MODE FIELD: "median min max spread count list" over the successful rounds.
stats() {
    local r
    for (( r = 1; r <= rounds; r++ )); do
        [[ -z "${err_of["$1 $r"]+x}" ]] || continue
        is_num "${val["$1 $r $2"]:-}" && printf '%s\n' "${val["$1 $r $2"]}"
    done | summarize_values
}
# cell MODE FIELD [DIGITS]: "median [min..max]", DIGITS decimals (default 0).
cell() {
    local md lo hi _sp cnt _l f="%.${3:-0}f"
    read -r md lo hi _sp cnt _l <<<"$(stats "$1" "$2")"
    # shellcheck disable=SC2059
    if (( cnt == 0 )); then printf 'FAIL'; elif (( cnt == 1 )); then printf "$f" "$md"; else printf "$f [$f..$f]" "$md" "$lo" "$hi"; fi
}

echo
printf 'kernel %s, %s vCPUs (qemu TCG, one boot), procs=%s; latency_service --rate %s --work-us %s --fanout %s --seconds %s --warmup %s beside cpu_hog --threads %s\n' \
    "${kernel:-?}" "${guest_cpus:-?}" "${procs:-?}" "$rate" "$work_us" "$fanout" "$seconds" "$warmup" "$hog_threads"
printf 'median [min..max] of %d round(s):\n' "$rounds"
fmt='%-17s %-24s %-24s %-24s %-22s %s\n'
# shellcheck disable=SC2059
printf "$fmt" mode "p50 us" "p99 us" "p999 us" "throughput req/s" "host wait %"
best="" best_p99=""
for m in "${modes[@]}"; do
    # shellcheck disable=SC2059
    printf "$fmt" "$m" "$(cell "$m" p50_us)" "$(cell "$m" p99_us)" "$(cell "$m" p999_us)" "$(cell "$m" throughput_rps)" "$(cell "$m" host_wait_pct 1)"
    read -r md _ _ _ cnt _ <<<"$(stats "$m" p99_us)"
    if (( cnt > 0 )) && { [[ -z "$best" ]] || awk -v a="$md" -v b="$best_p99" 'BEGIN { exit !(a < b) }'; }; then
        best="$m" best_p99="$md"
    fi
done
target_met=null
if (( nmodes == 4 )); then
    if [[ -z "${best}" ]]; then
        printf 'target (scx+feedback has the lowest p99): not judged, no mode has a p99\n'
    elif [[ "$best" == scx+feedback ]]; then
        target_met=true
        printf 'target (scx+feedback has the lowest median p99 of the four): MET\n'
    else
        target_met=false
        printf 'target (scx+feedback has the lowest median p99 of the four): NOT MET (lowest: %s, %s us)\n' "$best" "$best_p99"
    fi
else
    printf 'lowest median p99: %s (the target is judged only with all four modes)\n' "${best:-none}"
fi
for m in "${modes[@]}"; do
    is_scx "$m" || continue
    for (( r = 1; r <= rounds; r++ )); do
        [[ -n "${scx_of["$m $r"]:-}" && -z "${err_of["$m $r"]+x}" ]] || continue
        IFS='|' read -r ops load st last _ <<<"${scx_of["$m $r"]}"
        # The mean per second over the --stats lines that served the service (the last
        # line is taken as the service ends, so it is no sample of the run).
        read -r _ _ enq_run enq_other enq_spin direct_idle _ kicks _ <<<"$st"
        printf 'mnsched-scx, %s round %d: ops %s, enabled after %s s; mean of %s --stats lines: enq/s run %s other %s spin %s, kicks/s %s, direct-idle/s %s\n' \
            "$m" "$r" "$ops" "${load:-?}" "$(kv served "$st")" "${enq_run:-?}" "${enq_other:-?}" "${enq_spin:-?}" "${kicks:-?}" "${direct_idle:-?}"
    done
done
grep -q '^@dmesg ' "$vm_out" && { echo 'kernel (sched_ext):'; sed -n 's/^@dmesg /  /p' "$vm_out"; }

# --- the JSON -----------------------------------------------------------------------------------
json_stats() {
    local md lo hi sp cnt list
    read -r md lo hi sp cnt list <<<"$(stats "$1" "$2")"
    if (( cnt == 0 )); then printf null; return; fi
    printf '{"median": %s, "min": %s, "max": %s, "spread": %s, "runs": [%s]}' \
        "$(json_num "$md")" "$(json_num "$lo")" "$(json_num "$hi")" "$(json_num "$sp")" "${list//,/, }"
}
json_scx() {
    local ops load st last src lines served rest i=0 sep="" n
    if [[ -z "${scx_of["$1"]:-}" ]]; then printf null; return; fi
    IFS='|' read -r ops load st last src <<<"${scx_of["$1"]}"
    lines="$(kv lines "$st")" served="$(kv served "$st")"
    rest="$(sed 's/^lines=[0-9]* served=[0-9]* *//' <<<"$st")"
    printf '{"ops": %s, "enable_s": %s, "exit_status": %s, "stats_lines": %s, "stats_lines_serving": %s, "stats_mean_per_s": {' \
        "$(json_str "$ops")" "$(json_num "$load")" "$(json_num "$src")" "$(json_num "$lines")" "$(json_num "$served")"
    for n in $rest; do
        (( i < ${#stat_names[@]} )) || break
        printf '%s"%s": %s' "$sep" "${stat_names[$i]}" "$(json_num "$n")"
        sep=", " i=$((i + 1))
    done
    printf '}, "last_stats": %s}' "$( [[ -n "$last" ]] && json_str "$last" || printf null )"
}
write_json() {
    local sep m r f sep2 dm
    {
        printf '{"quick": %s, "command": %s, "kernel": %s, "guest_cpus": %s, "procs": %s,\n' \
            "$( ((quick)) && echo true || echo false )" "$(json_str "$command_line")" "$(json_str "${kernel:-}")" \
            "$(json_num "${guest_cpus:-}")" "$(json_num "${procs:-}")"
        printf ' "vm": {"accel": "qemu TCG, thread=single", "cpus": %s, "seconds": %s},\n' "$cpus" "$vm_s"
        printf ' "service": {"rate": %s, "seconds": %s, "warmup": %s, "work_us": %s, "fanout": %s}, "hog_threads": %s,\n' \
            "$rate" "$seconds" "$warmup" "$work_us" "$fanout" "$hog_threads"
        printf ' "scx_command": %s, "rounds": %s, "order": [%s],\n' \
            "$(json_str "mnsched-scx --full --all --interval=$interval --stats")" "$rounds" "$order_json"
        printf ' "stats_fields": [%s],\n' "$(sep=""; for f in "${stat_names[@]}"; do printf '%s"%s"' "$sep" "$f"; sep=", "; done)"
        printf ' "modes": ['
        sep=""
        for m in "${modes[@]}"; do
            printf '%s\n  {"mode": %s, "env": %s, "scx": %s' "$sep" "$(json_str "$m")" \
                "$(json_str "MN_KERNEL_FEEDBACK=$(kf_env "$m")")" "$(is_scx "$m" && echo true || echo false)"
            for f in "${fields[@]}"; do printf ', "%s": %s' "$f" "$(json_stats "$m" "$f")"; done
            printf ',\n   "runs": ['
            sep2=""
            for (( r = 1; r <= rounds; r++ )); do
                printf '%s\n    {"round": %s, "position": %s' "$sep2" "$r" "${pos_of["$m $r"]}"
                for f in "${fields[@]}"; do printf ', "%s": %s' "$f" "$(json_num "${val["$m $r $f"]:-}")"; done
                printf ', "error": %s, "scx": %s}' \
                    "$( [[ -n "${err_of["$m $r"]+x}" ]] && json_str "${err_of["$m $r"]}" || printf null )" "$(json_scx "$m $r")"
                sep2=","
            done
            printf ']}'
            sep=","
        done
        printf '],\n "lowest_p99": %s, "target_met": %s,\n' "$( [[ -n "$best" ]] && json_str "$best" || printf null )" "$target_met"
        printf ' "sched_ext_log": ['
        sep=""
        while IFS= read -r dm; do printf '%s%s' "$sep" "$(json_str "$dm")"; sep=", "; done < <(sed -n 's/^@dmesg //p' "$vm_out")
        printf ']}\n'
    } >"$1.tmp" && mv "$1.tmp" "$1"
}
if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    write_json "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi

# --- the chart ------------------------------------------------------------------------------------
draw_latency() {
    local out="$1" data="$tmp/lat.tsv" script="$tmp/lat.gp" i=0 m f md lo hi cnt line lo_all
    : >"$data"
    for m in "${modes[@]}"; do
        line="$i"$'\t'"$m"
        for f in p50_us p99_us; do
            read -r md lo hi _ cnt _ <<<"$(stats "$m" "$f")"
            if (( cnt == 0 )); then md=NaN lo=NaN hi=NaN; fi
            line+=$'\t'"$md"$'\t'"$lo"$'\t'"$hi"
        done
        printf '%s\n' "$line" >>"$data"
        i=$((i + 1))
    done
    awk -F '\t' '$3 != "NaN" || $6 != "NaN"' "$data" | grep -q . || return 2
    # The bars rise from the power of ten below the smallest value (the log scale has no 0).
    lo_all="$(awk -F '\t' 'BEGIN { m = 1e18 } { for (i = 3; i <= 8; i++) if ($i != "NaN" && $i + 0 > 0 && $i + 0 < m) m = $i + 0 }
                          END { e = int(log(m) / log(10)); if (10 ^ e > m) e--; print 10 ^ e }' "$data")"
    {
        gp_terminal 900 560
        printf 'set output "%s"\n' "$out"
        printf 'set datafile separator "\\t"\n'
        printf 'set title "latency_service --rate %s --work-us %s --fanout %s beside cpu_hog --threads %s\\nin the VM: kernel %s, %s vCPUs, qemu TCG, one boot; median of %s round(s), bars min..max%s"\n' \
            "$rate" "$work_us" "$fanout" "$hog_threads" "${kernel:-?}" "${guest_cpus:-?}" "$rounds" "$( ((quick)) && echo ', quick: not a measurement')"
        printf 'set ylabel "latency, microseconds (log scale)"\n'
        printf 'ybase = %s\nset logscale y\nset yrange [ybase:*]\nset format y "%%.0f"\n' "$lo_all"
        printf 'set xrange [-0.6:%s]\n' "$i-0.4"
        printf 'set xtics (%s) nomirror\n' "$(awk -F '\t' '{ printf "%s\"%s\" %d", (NR > 1 ? ", " : ""), $2, $1 }' "$data")"
        printf 'set grid ytics\nset key outside right top\nset style fill solid 0.85 border -1\n'
        printf 'w = 0.18\n'
        printf "plot '%s' using (\$1-0.2):3:(\$1-0.2-w):(\$1-0.2+w):(ybase):3 with boxxyerror lc rgb '#3a7dc9' title 'p50', \\\\\n" "$data"
        printf "     '' using (\$1-0.2):3:4:5 with yerrorbars lc rgb 'black' pt -1 notitle, \\\\\n"
        printf "     '' using (\$1-0.2):5:(sprintf('%%.0f', \$3)) with labels offset 0,0.8 font ',8' notitle, \\\\\n"
        printf "     '' using (\$1+0.2):6:(\$1+0.2-w):(\$1+0.2+w):(ybase):6 with boxxyerror lc rgb '#c0392b' title 'p99', \\\\\n"
        printf "     '' using (\$1+0.2):6:7:8 with yerrorbars lc rgb 'black' pt -1 notitle, \\\\\n"
        printf "     '' using (\$1+0.2):8:(sprintf('%%.0f', \$6)) with labels offset 0,0.8 font ',8' notitle\n"
    } >"$script"
    gnuplot "$script" 2>"$tmp/gnuplot.err" || { sed 's/^/  | /' "$tmp/gnuplot.err" >&2; return 1; }
    if grep -qiE 'error|warning' "$tmp/gnuplot.err"; then sed 's/^/  | /' "$tmp/gnuplot.err" >&2; fi
    [[ -s "$out" ]]
}
chart_failed=0
if [[ "$plot_dir" != none ]]; then
    if ! command -v gnuplot >/dev/null 2>&1; then
        printf 'chart: none: gnuplot is not installed (Debian: gnuplot-nox)\n'
    else
        mkdir -p "$plot_dir"
        png="$plot_dir/scx-vm-latency.png"
        rc=0
        draw_latency "$png" || rc=$?
        if (( rc == 0 )); then
            printf 'chart: %s\n' "${png#"$repo_root"/}"
        elif (( rc == 2 )); then
            printf 'chart: no %s (no run succeeded)\n' "${png#"$repo_root"/}"
        else
            log "FAILED: gnuplot could not draw $png"
            chart_failed=1
        fi
    fi
fi

printf 'time: %d s in all (building %d s, the VM %d s)\n' "$(( SECONDS - start_s ))" "$build_s" "$vm_s"
printf 'reproduce: %s\n' "$command_line"
if (( failures > 0 )); then
    echo
    echo "$failures failed run(s):"
    for k in "${!err_of[@]}"; do printf '  %s: %s\n' "$k" "${err_of[$k]}"; done | sort
    exit 1
fi
(( chart_failed == 0 )) || exit 1
exit 0
