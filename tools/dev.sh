#!/usr/bin/env bash
# The one entry point for working on mnsched (documented in the README):
#
#   bash tools/dev.sh demo  [demo args...]   build preset `release`, run examples/demo with MN_SCHEDTRACE=1000
#   bash tools/dev.sh test  [ctest args...]  for each preset (default: release asan tsan; env MN_PRESETS
#                                            overrides, e.g. MN_PRESETS="release asan"): configure, build,
#                                            ctest -j2; then, when the release preset is among them, the
#                                            benchmark harnesses' smoke runs `bash bench/run-compare.sh --quick`
#                                            and `bash bench/run-net.sh --quick` (the servers under wrk and echo_load)
#                                            (every workload once, mnsched, Go 1.24 and Boost.Fiber, procs 1
#                                            and 2; fails only if a program or the harness fails, never on
#                                            speed; MN_TEST_BENCH=0 skips it); stops at the first failure;
#                                            prints a summary
#   bash tools/dev.sh bench [args...]        bash bench/run-compare.sh args... (every workload: mnsched, Go
#                                            and Boost.Fiber; writes bench/results/latest.json and charts)
#
# Every subcommand first makes sure the Debian 12 packages in MN_DEB_PACKAGES are installed:
# it installs the missing ones with apt-get when run as root, and otherwise names them and exits 2.
# Nothing is installed (and apt-get is not run) when everything is already there.
set -euo pipefail

# Debian packages needed to build, test and benchmark. Extend here.
MN_DEB_PACKAGES=(
  build-essential g++ clang cmake ninja-build pkg-config
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libboost-fiber-dev gnuplot-nox
  wrk
  qemu-system-x86 busybox-static cpio   # tests/vm/run.sh: the sched_ext VM (ctest -L vm)
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf 'dev.sh: %s\n' "$*"; }
die() { local rc=$1; shift; printf 'dev.sh: %s\n' "$*" >&2; exit "$rc"; }

usage() {
  cat >&2 <<EOF
usage: bash tools/dev.sh <command> [args...]
  demo  [args...]   build preset 'release' and run build/release/examples/demo (MN_SCHEDTRACE=1000)
  test  [args...]   configure/build/ctest each preset in \${MN_PRESETS:-release asan tsan};
                    args are passed to ctest (e.g. -LE slow, -R Sched); then, with the release
                    preset, bench/run-compare.sh --quick and bench/run-net.sh --quick
                    (MN_TEST_BENCH=0 skips them)
  bench [args...]   run bench/run-compare.sh with these args (--help lists them)
EOF
}

# ---- Debian packages ---------------------------------------------------------------------------
ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "warning: no dpkg-query (not Debian?); cannot check for: ${MN_DEB_PACKAGES[*]}"
    return 0
  fi
  local p status missing=()
  for p in "${MN_DEB_PACKAGES[@]}"; do
    # One line per installed architecture (Multi-Arch: same); any "installed" counts.
    # (Captured first: `dpkg-query | grep -q` could die of SIGPIPE under pipefail.)
    status=$(dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null || true)
    if ! grep -qx installed <<<"$status"; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    printf 'dev.sh: missing Debian packages: %s\n' "${missing[*]}" >&2
    printf 'dev.sh: as root run: apt-get update && apt-get install -y --no-install-recommends %s\n' \
      "${missing[*]}" >&2
    exit 2
  fi
  say "installing missing Debian packages: ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

ncpu() { nproc 2>/dev/null || echo 2; }

# ---- demo --------------------------------------------------------------------------------------
cmd_demo() {
  cmake --preset release
  cmake --build --preset release -j"$(ncpu)"
  local demo=build/release/examples/demo
  [[ -x $demo ]] || die 1 "$demo was not built (is examples/demo in examples/CMakeLists.txt yet?)"
  MN_SCHEDTRACE=${MN_SCHEDTRACE:-1000} exec "$demo" "$@"
}

# ---- test --------------------------------------------------------------------------------------
PASSED=()
summary() {
  say "==== summary"
  local p
  for p in "${PASSED[@]}"; do say "  $p: passed"; done
  if [[ $# -gt 0 ]]; then say "  $1: FAILED ($2)"; fi
  if [[ $# -gt 2 && -n $3 ]]; then say "  not run: $3"; fi
}

# Run one step of a preset; on failure print which, the summary, and exit with its status.
run_step() {
  local preset=$1 step=$2 rest=$3; shift 3
  say "==== [$preset] $step: $*"
  local rc=0
  "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then
    printf '\ndev.sh: preset %s FAILED at %s (exit %d): %s\n' "$preset" "$step" "$rc" "$*" >&2
    summary "$preset" "$step" "$rest"
    exit "$rc"
  fi
}

cmd_test() {
  local presets
  read -r -a presets <<<"${MN_PRESETS:-release asan tsan}"
  [[ ${#presets[@]} -gt 0 ]] || die 2 "MN_PRESETS is empty"
  # The sanitizer options are set for ctest only (the env in ctest_wrap), so one preset's
  # settings never leak into the next.
  local i p rest ctest_wrap asan ubsan tsan bits
  for ((i = 0; i < ${#presets[@]}; i++)); do
    p=${presets[i]}
    rest="${presets[*]:i+1}"
    ctest_wrap=()
    case $p in
      asan)
        asan=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
        ubsan=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        say "[$p] ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan"
        ctest_wrap=(env "ASAN_OPTIONS=$asan" "UBSAN_OPTIONS=$ubsan")
        ;;
      tsan)
        tsan=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}
        say "[$p] TSAN_OPTIONS=$tsan"
        ctest_wrap=(env "TSAN_OPTIONS=$tsan")
        # TSan (the libtsan of GCC 12 / clang 14) assumes the kernel's mmap randomisation
        # stays within 28 bits. Newer kernels/distros default vm.mmap_rnd_bits to 32 (e.g.
        # Ubuntu 23.10+), and then libraries or stacks land outside TSan's shadow layout
        # and every instrumented binary dies at startup with
        # "FATAL: ThreadSanitizer: unexpected memory mapping". Rather than lowering the
        # sysctl machine-wide, run the tests with ASLR disabled for ctest and its children
        # (setarch -R sets the ADDR_NO_RANDOMIZE personality, inherited across fork/exec).
        bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
        if [[ $bits =~ ^[0-9]+$ && $bits -gt 28 ]]; then
          say "[$p] vm.mmap_rnd_bits=$bits > 28: running ctest under 'setarch $(uname -m) -R'"
          ctest_wrap+=(setarch "$(uname -m)" -R)
        fi
        ;;
    esac
    run_step "$p" configure "$rest" cmake --preset "$p"
    run_step "$p" build "$rest" cmake --build --preset "$p" -j"$(ncpu)"
    run_step "$p" ctest "$rest" "${ctest_wrap[@]}" ctest --preset "$p" -j2 "$@"
    PASSED+=("$p")
    # The release suite once more with kernel feedback forced off: every test must pass
    # whether or not the BPF programs are loaded (as root they are, by default). Not the VM
    # tests (label vm): they set feedback in the guest themselves and ran above.
    if [[ $p == release ]]; then
      run_step "$p" "ctest (MN_KERNEL_FEEDBACK=off)" "$rest" \
        env MN_KERNEL_FEEDBACK=off ctest --preset "$p" -j2 -LE vm "$@"
      PASSED+=("release feedback-off")
    fi
  done
  # The benchmark harness's smoke run against the release build: every workload once at
  # small sizes (bench/results/quick.json; well under a minute of runs). It fails only when a
  # program or the harness does (or Go 1.24 cannot be had), never on speed.
  if [[ ${MN_TEST_BENCH:-1} == 0 ]]; then
    say "quick benchmark run skipped (MN_TEST_BENCH=0)"
  elif [[ " ${presets[*]} " != *" release "* ]]; then
    say "quick benchmark run skipped (it uses the release build; MN_PRESETS has no release)"
  else
    run_step bench "run-compare --quick" "" bash bench/run-compare.sh --quick --build-dir build/release
    run_step bench "run-net --quick" "" bash bench/run-net.sh --quick --build-dir build/release
    run_step bench "run-feedback-cost --quick" "" bash bench/run-feedback-cost.sh --quick --build-dir build/release
    run_step bench "run-kfeedback --quick" "" bash bench/run-kfeedback.sh --quick --build-dir build/release
    # Also reads every trace back with mntrace summarize.
    run_step bench "run-trace-overhead --quick" "" bash bench/run-trace-overhead.sh --quick --build-dir build/release
    PASSED+=("bench --quick" "net bench --quick" "feedback-cost --quick" "kfeedback --quick" "trace-overhead --quick")
  fi
  summary
  say "all passed: ${PASSED[*]}"
}

# ---- bench -------------------------------------------------------------------------------------
cmd_bench() {
  [[ -f bench/run-compare.sh ]] || die 1 "bench/run-compare.sh is missing"
  exec bash bench/run-compare.sh "$@"
}

# ---- main --------------------------------------------------------------------------------------
if [[ $# -lt 1 ]]; then
  usage
  exit 2
fi
cmd=$1
shift
case $cmd in
  demo|test|bench) ensure_packages; "cmd_$cmd" "$@" ;;
  -h|--help|help) usage; exit 0 ;;
  *) printf 'dev.sh: unknown command: %s\n' "$cmd" >&2; usage; exit 2 ;;
esac
