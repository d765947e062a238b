#!/usr/bin/env bash
# Skynet, mnsched against Go, side by side.
#
#   bench/run-skynet.sh [--procs N] [--runs K] [--leaves N] [--build-dir DIR]
#
#   --procs N       worker threads: MN_PROCS=N for mnsched, GOMAXPROCS=N for Go
#                   (default: nproc)
#   --runs K        runs of each system, alternated mn, go, mn, go, ... (default 5)
#   --leaves N      leaves of the 10-ary tree, a power of 10 (default 1000000)
#   --build-dir DIR CMake build dir (default build/release, relative to the
#                   repo root); holds bench/skynet and gets bench/skynet-go
#
# The mnsched binary is built if missing (`cmake --preset release` + `cmake
# --build --preset release --target skynet` for the default build dir); when
# the build dir is a configured CMake tree the target is brought up to date.
# Go 1.24 comes from tools/go-toolchain.sh (cached after the first run) and
# builds bench/go/skynet offline. Prints each run's line, then a summary.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-skynet: %s\n' "$*" >&2
    printf 'usage: bench/run-skynet.sh [--procs N] [--runs K] [--leaves N] [--build-dir DIR]\n' >&2
    exit 2
}
die() { printf 'run-skynet: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-skynet: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

procs="$(nproc)"
runs=5
leaves=1000000
build_dir="build/release"

# need_value OPT ARGC: OPT takes a value; there must be one.
need_value() { [[ "$2" -ge 2 ]] || bad_arg "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --procs)      need_value "$1" $#; procs="$2"; shift 2 ;;
        --procs=*)    procs="${1#*=}"; shift ;;
        --runs)       need_value "$1" $#; runs="$2"; shift 2 ;;
        --runs=*)     runs="${1#*=}"; shift ;;
        --leaves)     need_value "$1" $#; leaves="$2"; shift 2 ;;
        --leaves=*)   leaves="${1#*=}"; shift ;;
        --build-dir)  need_value "$1" $#; build_dir="$2"; shift 2 ;;
        --build-dir=*) build_dir="${1#*=}"; shift ;;
        -h|--help)    usage; exit 0 ;;
        *)            bad_arg "unknown argument '$1'" ;;
    esac
done

is_pos_int() { [[ "$1" =~ ^[1-9][0-9]{0,8}$ ]]; }
is_pos_int "$procs" || bad_arg "--procs must be a positive integer, got '$procs'"
is_pos_int "$runs" || bad_arg "--runs must be a positive integer, got '$runs'"
[[ "$leaves" =~ ^10{0,9}$ ]] || bad_arg "--leaves must be a power of 10 (1 .. 1000000000), got '$leaves'"
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"

[[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
build_dir="${build_dir%/}"
mn_bin="$build_dir/bench/skynet"
go_bin_out="$build_dir/bench/skynet-go"
expected_sum="$(awk -v n="$leaves" 'BEGIN { printf "%.0f", n * (n - 1) / 2 }')"

# --- (a) the mnsched side ---------------------------------------------------
# (Called in an || list, where set -e does not apply: every step checks.)
build_mn() {
    local preset_dir="$repo_root/build/release"
    cd "$repo_root" || return 1
    if [[ "$build_dir" == "$preset_dir" ]]; then
        if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
            log "configuring: cmake --preset release"
            cmake --preset release >&2 || return 1
        fi
        log "building: cmake --build --preset release --target skynet"
        cmake --build --preset release --target skynet >&2 || return 1
    else
        if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
            log "configuring $build_dir (Release)"
            cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || return 1
        fi
        log "building: cmake --build $build_dir --target skynet"
        cmake --build "$build_dir" --target skynet >&2 || return 1
    fi
}
if [[ ! -x "$mn_bin" || -f "$build_dir/CMakeCache.txt" ]]; then
    # Missing: build it. Present in a CMake tree: make sure it is up to date
    # (a no-op when it is). A bare binary without a CMake tree is used as is.
    build_mn || die "building the mnsched skynet failed"
    [[ -x "$mn_bin" ]] || die "no $mn_bin after the build"
fi

# --- (b) the Go side --------------------------------------------------------
go_cmd="$("$repo_root/tools/go-toolchain.sh" </dev/null)" || die "tools/go-toolchain.sh failed"
[[ -n "$go_cmd" && -x "$go_cmd" ]] || die "tools/go-toolchain.sh printed no usable go ('$go_cmd')"

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
go_version="$("${go_env[@]}" "$go_cmd" version)" || die "$go_cmd version failed"
mkdir -p "$build_dir/bench"
log "building $go_bin_out with $go_version"
(cd "$repo_root/bench/go/skynet" && "${go_env[@]}" "$go_cmd" build -trimpath -o "$go_bin_out" .) \
    || die "building bench/go/skynet failed"

# --- (c) alternate the runs ---------------------------------------------------
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

# run_one SYSTEM CMD...: run once, print the line, record "SYSTEM MS".
run_one() {
    local system="$1" out line ms sum got_procs
    shift
    if ! out="$(MN_PROCS="$procs" GOMAXPROCS="$procs" "$@" </dev/null)"; then
        printf '%s\n' "$out"
        die "$system run failed: $*"
    fi
    line="$(printf '%s\n' "$out" | grep -E "^skynet system=$system " | tail -n 1 || true)"
    [[ -n "$line" ]] || { printf '%s\n' "$out"; die "$system printed no 'skynet system=$system ...' line"; }
    printf '%s\n' "$line"
    ms="$(printf '%s\n' "$line" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^ms=/) { sub(/^ms=/, "", $i); print $i } }')"
    sum="$(printf '%s\n' "$line" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sum=/) { sub(/^sum=/, "", $i); print $i } }')"
    got_procs="$(printf '%s\n' "$line" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^procs=/) { sub(/^procs=/, "", $i); print $i } }')"
    [[ "$ms" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$system: bad ms= in: $line"
    [[ "$sum" == "$expected_sum" ]] || die "$system: sum=$sum, expected $expected_sum"
    [[ "$got_procs" == "$procs" ]] || log "warning: $system ran with procs=$got_procs, not $procs"
    printf '%s %s\n' "$system" "$ms" >>"$results"
}

log "skynet: leaves=$leaves procs=$procs runs=$runs (alternating mnsched, go)"
for ((i = 1; i <= runs; i++)); do
    run_one mnsched "$mn_bin" --leaves "$leaves" --runs 1
    run_one go "$go_bin_out" -leaves "$leaves" -runs 1
done

# --- (d) summary ----------------------------------------------------------------
# stats SYSTEM: "median min max" of that system's ms.
stats() {
    awk -v s="$1" '$1 == s { print $2 }' "$results" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) exit 1
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.1f %.1f %.1f\n", med, v[1], v[NR]
        }'
}
read -r mn_med mn_min mn_max < <(stats mnsched)
read -r go_med go_min go_max < <(stats go)

echo
printf 'skynet summary: leaves=%s procs=%s runs=%s\n' "$leaves" "$procs" "$runs"
printf '%-8s %12s %12s %12s\n' system "median ms" "min ms" "max ms"
printf '%-8s %12s %12s %12s\n' mnsched "$mn_med" "$mn_min" "$mn_max"
printf '%-8s %12s %12s %12s\n' go "$go_med" "$go_min" "$go_max"
awk -v g="$go_med" -v m="$mn_med" 'BEGIN {
    if (m <= 0 || g <= 0) { printf "ratio: n/a (a median is 0 ms; use more leaves)\n"; exit }
    r = g / m
    printf "ratio go_median / mnsched_median = %.2f\n", r
    if (r >= 1) printf "mnsched is %.2fx faster than Go\n", r
    else        printf "mnsched is %.2fx slower than Go\n", 1 / r
}'
printf 'go: %s (%s)\n' "$go_version" "$go_cmd"
