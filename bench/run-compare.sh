#!/usr/bin/env bash
# mnsched against Go on seven workloads, side by side.
#
#   bench/run-compare.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]]
#                        [--build-dir DIR] [--systems mn|go|mn,go] [--timeout SEC]
#
#   --procs LIST    worker threads, each value in turn: MN_PROCS=P for mnsched,
#                   GOMAXPROCS=P for Go; "1 2" or 1,2 (default "1 2")
#   --runs K        runs of each system per workload and procs, alternated
#                   mn, go, mn, go, ... (default 5; with --quick, 1)
#   --quick         small sizes (a tenth of the full ones) and, unless --runs
#                   is given, one run: a smoke test, not a measurement
#   --only NAMES    comma-separated workloads (default: all, in this order):
#                     skynet       10-ary tree of 1,000,000 leaf tasks
#                                  (bench/skynet.cpp, bench/go/skynet)
#                     pingpong     2 tasks, 2 unbuffered channels, 1,000,000 round trips
#                     chan_mpmc    4 producers, 4 consumers, channel of capacity 1024,
#                                  1,000,000 items
#                     timer_storm  100,000 tasks sleep 0-10 ms each; lateness
#                                  percentiles; then the same with 1,000 tasks
#                                  (light load: the 1 ms wake-up target)
#                     timer_light  only the 1,000-task run of timer_storm
#                     mutex        8 tasks, one mutex, 1,000,000 critical sections
#                     blocking     one task enters and leaves a blocking call, 10,000,000
#                                  times per loop, ns per operation: raw_ns, getppid
#                                  called directly (Go: syscall.RawSyscall);
#                                  syscall_ns, getppid inside mn::blocking (Go:
#                                  syscall.Syscall, i.e. entersyscall/exitsyscall);
#                                  overhead_ns, mn::blocking with an empty body. Go has
#                                  no way to enter a syscall without making one, so its
#                                  overhead_ns is syscall_ns - raw_ns from the same run
#                                  (bench/blocking.cpp, bench/go/blocking)
#   --build-dir DIR CMake build dir (default build/release, relative to the repo
#                   root); holds bench/<target> and gets bench/<target>-go
#   --systems LIST  which systems to run: mn, go or mn,go (default mn,go); with
#                   one, the table has only its medians
#   --timeout SEC   a run taking longer is killed and counted as failed
#                   (default 300)
#
# The mnsched binaries (targets skynet pingpong chan_mpmc timer_storm
# mutex_contention blocking) are built if missing: `cmake --preset release` + `cmake
# --build --preset release --target ...` for the default build dir; when the
# build dir is a configured CMake tree the targets are brought up to date. Go
# 1.24 comes from tools/go-toolchain.sh and builds bench/go/<name> offline into
# <build-dir>/bench/<target>-go.
#
# Prints each run's line as it finishes, then a table of medians: workload, n,
# procs, metric, mnsched, go, and go / mnsched. Every metric is lower-is-better
# (times, and lateness for *_us), so a ratio above 1 means mnsched did better.
# A run that fails (exit status, timeout, malformed line) is reported with a
# command to reproduce it; that system's remaining runs of that workload and
# procs are skipped, and the script exits 1 at the end. Bad arguments: exit 2.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-compare: %s\n' "$*" >&2
    printf 'usage: bench/run-compare.sh [--procs LIST] [--runs K] [--quick] [--only NAME[,NAME]] [--build-dir DIR] [--systems LIST] [--timeout SEC]\n' >&2
    exit 2
}
die() { printf 'run-compare: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-compare: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- workloads ------------------------------------------------------------------
# A workload (an --only name) runs one or more cases; a case is one program pair
# at one size. Per case: the C++ target, the Go package dir, the line's first
# word, the size flag, the full and quick sizes, and the metrics to tabulate.
all_workloads=(skynet pingpong chan_mpmc timer_storm timer_light mutex blocking)
# The cases, in the order they run and are tabulated.
all_cases=(skynet pingpong chan_mpmc timer_storm timer_light mutex blocking)
declare -A workload_cases=(
    [skynet]="skynet"
    [pingpong]="pingpong"
    [chan_mpmc]="chan_mpmc"
    [timer_storm]="timer_storm timer_light"
    [timer_light]="timer_light"
    [mutex]="mutex"
    [blocking]="blocking"
)
declare -A case_target=(
    [skynet]=skynet [pingpong]=pingpong [chan_mpmc]=chan_mpmc
    [timer_storm]=timer_storm [timer_light]=timer_storm [mutex]=mutex_contention
    [blocking]=blocking
)
declare -A case_godir=(
    [skynet]=skynet [pingpong]=pingpong [chan_mpmc]=chanmpmc
    [timer_storm]=timerstorm [timer_light]=timerstorm [mutex]=mutex
    [blocking]=blocking
)
declare -A case_word=(
    [skynet]=skynet [pingpong]=pingpong [chan_mpmc]=chan_mpmc
    [timer_storm]=timer_storm [timer_light]=timer_storm [mutex]=mutex
    [blocking]=blocking
)
declare -A case_flag=(
    [skynet]=leaves [pingpong]=n [chan_mpmc]=n [timer_storm]=n [timer_light]=n [mutex]=n
    [blocking]=n
)
declare -A case_full=(
    [skynet]=1000000 [pingpong]=1000000 [chan_mpmc]=1000000
    [timer_storm]=100000 [timer_light]=1000 [mutex]=1000000
    [blocking]=10000000
)
declare -A case_quick=(
    [skynet]=100000 [pingpong]=100000 [chan_mpmc]=100000
    [timer_storm]=10000 [timer_light]=1000 [mutex]=100000
    [blocking]=1000000
)
declare -A case_metrics=(
    [skynet]="ms" [pingpong]="ns_per_roundtrip" [chan_mpmc]="ns_per_item"
    [timer_storm]="ms p50_us p99_us max_us" [timer_light]="p50_us p99_us max_us"
    [mutex]="ns_per_op"
    [blocking]="raw_ns syscall_ns overhead_ns"
)

# --- arguments ------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only=""
build_dir="build/release"
systems_arg="mn,go"
timeout_s=300

# need_value OPT ARGC: OPT takes a value; there must be one.
need_value() { [[ "$2" -ge 2 ]] || bad_arg "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --procs)       need_value "$1" $#; procs_arg="$2"; shift 2 ;;
        --procs=*)     procs_arg="${1#*=}"; shift ;;
        --runs)        need_value "$1" $#; runs="$2"; shift 2 ;;
        --runs=*)      runs="${1#*=}"; shift ;;
        --quick)       quick=1; shift ;;
        --only)        need_value "$1" $#; only="$2"; shift 2 ;;
        --only=*)      only="${1#*=}"; shift ;;
        --build-dir)   need_value "$1" $#; build_dir="$2"; shift 2 ;;
        --build-dir=*) build_dir="${1#*=}"; shift ;;
        --systems)     need_value "$1" $#; systems_arg="$2"; shift 2 ;;
        --systems=*)   systems_arg="${1#*=}"; shift ;;
        --timeout)     need_value "$1" $#; timeout_s="$2"; shift 2 ;;
        --timeout=*)   timeout_s="${1#*=}"; shift ;;
        -h|--help)     usage; exit 0 ;;
        *)             bad_arg "unknown argument '$1'" ;;
    esac
done

is_pos_int() { [[ "$1" =~ ^[1-9][0-9]{0,8}$ ]]; }

# split_list VAR STRING: STRING's comma- or blank-separated words into array VAR.
split_list() { IFS=$', \t\n' read -r -a "$1" <<<"$2" || true; }

split_list procs_list "$procs_arg"
for p in ${procs_list[@]+"${procs_list[@]}"}; do
    is_pos_int "$p" || bad_arg "--procs: '$p' is not a positive integer (in '$procs_arg')"
done
[[ ${#procs_list[@]} -gt 0 ]] || bad_arg "--procs: empty list"

if [[ -z "$runs" ]]; then
    runs=$(( quick ? 1 : 5 ))
else
    is_pos_int "$runs" || bad_arg "--runs must be a positive integer, got '$runs'"
fi
is_pos_int "$timeout_s" || bad_arg "--timeout must be a positive integer (seconds), got '$timeout_s'"
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"

run_mn=0 run_go=0
split_list systems_words "$systems_arg"
for s in ${systems_words[@]+"${systems_words[@]}"}; do
    case "$s" in
        mn|mnsched) run_mn=1 ;;
        go)         run_go=1 ;;
        *)          bad_arg "--systems: unknown system '$s' (want mn, go or mn,go)" ;;
    esac
done
(( run_mn || run_go )) || bad_arg "--systems: empty list"

# The cases to run, in the canonical order, whatever the order of --only.
declare -A wanted=()
if [[ -n "$only" ]]; then
    split_list only_words "$only"
    for name in ${only_words[@]+"${only_words[@]}"}; do
        [[ -n "${workload_cases[$name]+x}" ]] \
            || bad_arg "--only: unknown workload '$name' (known: ${all_workloads[*]})"
        for c in ${workload_cases[$name]}; do wanted[$c]=1; done
    done
    [[ ${#wanted[@]} -gt 0 ]] || bad_arg "--only: empty list"
else
    for c in "${all_cases[@]}"; do wanted[$c]=1; done
fi
cases=()
for c in "${all_cases[@]}"; do
    [[ -n "${wanted[$c]+x}" ]] && cases+=("$c")
done

[[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
build_dir="${build_dir%/}"

# The distinct C++ targets and Go dirs of the chosen cases.
targets=()
for c in "${cases[@]}"; do
    t="${case_target[$c]}"
    [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t")
done

# --- (a) the mnsched side -----------------------------------------------------------
# (Called in an || list, where set -e does not apply: every step checks.)
build_mn() {
    local preset_dir="$repo_root/build/release"
    cd "$repo_root" || return 1
    if [[ "$build_dir" == "$preset_dir" ]]; then
        if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
            log "configuring: cmake --preset release"
            cmake --preset release >&2 || return 1
        fi
        log "building: cmake --build --preset release --target ${targets[*]}"
        cmake --build --preset release --target "${targets[@]}" >&2 || return 1
    else
        if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
            log "configuring $build_dir (Release)"
            cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || return 1
        fi
        log "building: cmake --build $build_dir --target ${targets[*]}"
        cmake --build "$build_dir" --target "${targets[@]}" >&2 || return 1
    fi
}
if (( run_mn )); then
    missing=0
    for t in "${targets[@]}"; do [[ -x "$build_dir/bench/$t" ]] || missing=1; done
    if (( missing )) || [[ -f "$build_dir/CMakeCache.txt" ]]; then
        # Missing: build. Present in a CMake tree: bring up to date (a no-op when it
        # is). Bare binaries without a CMake tree are used as they are.
        build_mn || die "building the mnsched benchmarks (${targets[*]}) failed"
        for t in "${targets[@]}"; do
            [[ -x "$build_dir/bench/$t" ]] || die "no $build_dir/bench/$t after the build"
        done
    fi
fi

# --- (b) the Go side ----------------------------------------------------------------
go_version="(not run)"
go_cmd=""
if (( run_go )); then
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
    built=" "
    for c in "${cases[@]}"; do
        t="${case_target[$c]}" d="${case_godir[$c]}"
        [[ "$built" == *" $t "* ]] && continue
        log "building $build_dir/bench/$t-go from bench/go/$d"
        (cd "$repo_root/bench/go/$d" && "${go_env[@]}" "$go_cmd" build -trimpath -o "$build_dir/bench/$t-go" .) \
            || die "building bench/go/$d failed"
        built+="$t "
    done
    log "go: $go_version"
fi

# --- (c) the runs, alternated ---------------------------------------------------------
results="$(mktemp)"
outfile="$(mktemp)"
trap 'rm -f "$results" "$outfile"' EXIT
failures=0
declare -A failed=()   # "case procs system" -> why

# field LINE KEY: the value of KEY=... in LINE.
field() {
    printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }'
}

# run_one CASE PROCS SYSTEM: run once, print the line, record its metrics.
run_one() {
    local c="$1" procs="$2" system="$3"
    local word="${case_word[$c]}" flag="${case_flag[$c]}" size="$4"
    local bin repro rc=0 line v m why=""
    if [[ "$system" == mnsched ]]; then bin="$build_dir/bench/${case_target[$c]}"; else bin="$build_dir/bench/${case_target[$c]}-go"; fi
    local -a cmd=("$bin" "--$flag" "$size")
    repro="MN_PROCS=$procs GOMAXPROCS=$procs ${cmd[*]}"
    MN_PROCS="$procs" GOMAXPROCS="$procs" timeout -k 10 "$timeout_s" "${cmd[@]}" </dev/null >"$outfile" || rc=$?
    line="$(grep -E "^$word system=$system " "$outfile" | tail -n 1 || true)"
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        why="timed out after ${timeout_s}s (hang?)"
    elif [[ $rc -gt 128 ]]; then
        why="killed by signal $((rc - 128)) (exit status $rc)"
    elif [[ $rc -ne 0 ]]; then
        why="exit status $rc"
    elif [[ -z "$line" ]]; then
        why="printed no '$word system=$system ...' line"
    fi
    if [[ -z "$why" ]]; then
        [[ "$(field "$line" "$flag")" == "$size" ]] || why="$flag= is not $size in: $line"
        for m in ${case_metrics[$c]}; do
            v="$(field "$line" "$m")"
            [[ "$v" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || why="bad or missing $m= in: $line"
        done
        if [[ "$c" == skynet ]]; then
            local want
            want="$(awk -v n="$size" 'BEGIN { printf "%.0f", n * (n - 1) / 2 }')"
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

systems=()
(( run_mn )) && systems+=(mnsched)
(( run_go )) && systems+=(go)
declare -A case_size=()
for c in "${cases[@]}"; do
    if (( quick )); then case_size[$c]="${case_quick[$c]}"; else case_size[$c]="${case_full[$c]}"; fi
done

log "cases: ${cases[*]}; procs: ${procs_list[*]}; runs: $runs; systems: ${systems[*]}$( ((quick)) && echo '; quick sizes')"
for c in "${cases[@]}"; do
    for p in "${procs_list[@]}"; do
        log "${case_word[$c]} ${case_flag[$c]}=${case_size[$c]} procs=$p"
        for ((i = 1; i <= runs; i++)); do
            for s in "${systems[@]}"; do
                [[ -n "${failed["$c $p $s"]+x}" ]] && continue
                run_one "$c" "$p" "$s" "${case_size[$c]}" || true
            done
        done
    done
done

# --- (d) the table ----------------------------------------------------------------------
# median CASE PROCS SYSTEM METRIC: the median, or "-" without data.
median() {
    awk -v c="$1" -v p="$2" -v s="$3" -v m="$4" '$1 == c && $2 == p && $3 == s && $4 == m { print $5 }' "$results" \
        | sort -g | awk '
            { v[NR] = $1 }
            END {
                if (NR == 0) { print "-"; exit }
                med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%.1f\n", med
            }'
}
count() {
    awk -v c="$1" -v p="$2" -v s="$3" -v m="$4" '$1 == c && $2 == p && $3 == s && $4 == m' "$results" | wc -l
}

echo
printf 'medians of %s run(s); ratio = go / mnsched; every metric is lower-is-better, so ratio > 1 means mnsched did better\n' "$runs"
fmt='%-12s %8s %5s %-17s %12s %12s %8s\n'
printf "$fmt" workload n procs metric mnsched go ratio
printf "$fmt" ------------ -------- ----- ----------------- ------------ ------------ --------
light_notes=()
for c in "${cases[@]}"; do
    for p in "${procs_list[@]}"; do
        for m in ${case_metrics[$c]}; do
            mn_med="-" go_med="-"
            if (( run_mn )); then
                mn_med="$(median "$c" "$p" mnsched "$m")"
                [[ -n "${failed["$c $p mnsched"]+x}" ]] && mn_med="FAIL"
            fi
            if (( run_go )); then
                go_med="$(median "$c" "$p" go "$m")"
                [[ -n "${failed["$c $p go"]+x}" ]] && go_med="FAIL"
            fi
            ratio="$(awk -v g="$go_med" -v m="$mn_med" 'BEGIN {
                if (g !~ /^-?[0-9.]+$/ || m !~ /^-?[0-9.]+$/ || m + 0 <= 0 || g + 0 < 0) { print "n/a"; exit }
                printf "%.2f\n", g / m }')"
            label="${case_word[$c]}"
            [[ "$c" == timer_light ]] && label="timer_light"
            printf "$fmt" "$label" "${case_size[$c]}" "$p" "$m" "$mn_med" "$go_med" "$ratio"
            if [[ "$c" == timer_light && "$m" == p99_us ]]; then
                for s in "${systems[@]}"; do
                    v="$mn_med"; [[ "$s" == go ]] && v="$go_med"
                    verdict="$(awk -v v="$v" 'BEGIN {
                        if (v !~ /^-?[0-9.]+$/) print "no data (" v ")"
                        else printf "%s us: %s\n", v, (v + 0 <= 1000) ? "met" : "NOT met" }')"
                    light_notes+=("$(printf 'procs=%s %-7s p99 lateness %s' "$p" "$s" "$verdict")")
                done
            fi
        done
    done
done
if [[ ${#light_notes[@]} -gt 0 ]]; then
    echo
    echo "light load (timer_light, ${case_size[timer_light]} sleeping tasks): wakes within 1 ms at p99?"
    printf '  %s\n' "${light_notes[@]}"
fi
echo
printf 'mnsched: %s\ngo: %s%s\n' "$( ((run_mn)) && echo "$build_dir/bench" || echo "(not run)")" "$go_version" "${go_cmd:+ ($go_cmd)}"
if (( failures > 0 )); then
    echo
    echo "$failures failed run(s):"
    for k in "${!failed[@]}"; do printf '  %s: %s\n' "$k" "${failed[$k]}"; done | sort
    exit 1
fi
