#!/usr/bin/env bash
# The network benchmark: mnsched's servers on mn::net against the same servers in Go 1.24,
# under load from programs that are neither (wrk for HTTP, bench/echo_load for echo).
#
#   bench/run-net.sh [--procs LIST] [--runs K] [--quick] [--only LIST] [--systems LIST]
#                    [--duration SEC] [--warmup SEC] [--http-conns LIST] [--echo-conns N]
#                    [--server-cpus LIST] [--load-cpus LIST] [--build-dir DIR] [--save NAME]
#
#   --procs LIST       the servers' threads, each value in turn: --procs P for mnsched
#                      (mn::Options.procs) and Go (GOMAXPROCS); "1 2" or 1,2 (default "1 2")
#   --runs K           runs of each system per benchmark and procs, alternated run by run
#                      mn, go, nethttp, mn, go, nethttp, ... (default 3; with --quick, 1)
#   --quick            a smoke test of the programs and this script, not a measurement:
#                      one run each (unless --runs is given), 2 s loads, no warm-up, 100 echo
#                      connections; under a minute once built. Writes
#                      bench/results/net-quick.json, never net-latest.json
#   --only LIST        which benchmarks, comma-separated (default: http,echo):
#                        http  an HTTP/1.1 keep-alive server answering "Hello, World!":
#                              examples/http_hello (mnsched), bench/go/httphello (Go, the same
#                              server by hand over net.Conn), bench/go/httpnethttp (Go's
#                              net/http, for reference); load: wrk -t2 -cC -dDs --latency
#                              for each C of --http-conns; metrics req_per_sec, p50_us, p99_us
#                        echo  a TCP echo server: examples/echo_server (mnsched),
#                              bench/go/echoserver (Go); load: bench/echo_load --conns N
#                              --size 64 --threads 2 (closed loop, every byte checked);
#                              metrics msgs_per_sec, p50_us, p99_us, p999_us
#   --systems LIST     mn (mnsched), go (Go by hand), nethttp (Go net/http, HTTP only)
#                      (default mn,go,nethttp)
#   --duration SEC     each measured load, in whole seconds (default 10; with --quick, 2)
#   --warmup SEC       unmeasured load first, in whole seconds: a separate wrk run of that
#                      length on a fresh server before the measured one, echo_load's
#                      --warmup (default 1; with --quick, 0)
#   --http-conns LIST  wrk's connections, each value in turn (default "50 500")
#   --echo-conns N     echo_load's connections (default 1000; with --quick, 100)
#   --server-cpus LIST, --load-cpus LIST
#                      run the servers, or wrk and echo_load, under taskset -c LIST (e.g.
#                      --server-cpus 1 --load-cpus 0). Default: nothing is pinned
#   --build-dir DIR    CMake build dir (default build/release, relative to the repo root):
#                      holds examples/http_hello, examples/echo_server and bench/echo_load
#                      (built or brought up to date here), and gets the Go programs
#                      bench/httphello-go, bench/httpnethttp-go, bench/echoserver-go
#   --save NAME        results file bench/results/NAME.json (default "net-latest"; with
#                      --quick, "net-quick"); --save none writes nothing
#
# Every server is started afresh for every run, on 127.0.0.1 with --port 0 (the port the
# kernel picks is read from the "listening on" line the servers print), and stopped with
# SIGTERM after it.
#
# The machine: the load generators run on the same machine as the server. On a machine of
# 2 vCPUs, wrk's two threads (or echo_load's) and the server share the two CPUs, so the
# figures are of a server that has about one CPU's worth of time, whatever --procs says,
# and procs=2 mostly measures how the runtime copes with CPUs it has to share. That is the
# same for every system, which is what the comparison needs; it is not an absolute
# capacity. --server-cpus/--load-cpus separate them where there are CPUs to spare.
#
# Needs wrk (Debian package wrk) for the http benchmark: without it the script says so and
# exits 2. Installs nothing. Go 1.24 comes from tools/go-toolchain.sh, as for
# bench/run-compare.sh, and builds bench/go/<dir> offline.
#
# Output: a line per run, then a table: bench, conns, procs, metric, one "median ±spread"
# column per system (spread = 100 * (max - min) / 2 / median, in percent: every run lies
# within it), and mnsched's advantage over each other system, "vs go" and "vs nethttp":
# mnsched's median / the other's for throughput (req_per_sec, msgs_per_sec), the other's /
# mnsched's for latency (*_us); so, as in bench/run-compare.sh, above 1 means mnsched did
# better.
#
# Results (bench/results/NAME.json, unless --save none): a JSON list with one object per
# benchmark, connections, procs, system and metric:
#   {"bench", "conns", "procs", "system", "metric", "unit", "better" ("higher"/"lower"),
#    "load" (the load command), "duration_s", "median", "spread", "min", "max", "runs",
#    "vs_go", "vs_nethttp" (mnsched's advantage, on mnsched's objects; null elsewhere),
#    "wrk_timeouts" (wrk's timeout count summed over the runs; null for echo), "error"}
#
# Exit status: 0 when every run succeeded, whatever the figures; 1 when a server failed
# to start, died or hung, when a load generator failed or saw an error (echo_load: a wrong
# byte, a reset; wrk: a connect, read or write error, a non-2xx answer, no request done),
# each reported with commands to reproduce it, or when a build failed; 2 on bad arguments
# or without wrk.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
bad_arg() {
    printf 'run-net: %s\n' "$*" >&2
    printf 'usage: bench/run-net.sh [--procs LIST] [--runs K] [--quick] [--only LIST] [--systems LIST] [--duration SEC] [--warmup SEC] [--http-conns LIST] [--echo-conns N] [--server-cpus LIST] [--load-cpus LIST] [--build-dir DIR] [--save NAME]\n' >&2
    exit 2
}
die() { printf 'run-net: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'run-net: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start_s=$SECONDS
# parse_opts, configure_tree, tree_targets, build_targets, go_setup, go_build,
# summarize_values, ratio
# shellcheck source=bench/bench-lib.sh
source "$repo_root/bench/bench-lib.sh"

# --- arguments ------------------------------------------------------------------------
procs_arg="1 2"
runs=""
quick=0
only="http,echo"
systems_arg="mn,go,nethttp"
duration=""
warmup=""
http_conns_arg="50 500"
echo_conns=""
server_cpus=""
load_cpus=""
build_dir="build/release"
save=""

parse_opts '
    --procs        =procs_arg
    --runs         =runs
    --quick        quick=1
    --only         =only
    --systems      =systems_arg
    --duration     =duration
    --warmup       =warmup
    --http-conns   =http_conns_arg
    --echo-conns   =echo_conns
    --server-cpus  =server_cpus
    --load-cpus    =load_cpus
    --build-dir    =build_dir
    --save         =save' "$@"

# (split_list assigns these.)
procs_list=() http_conns=() only_words=() sys_words=()

split_list procs_list "$procs_arg"
for p in ${procs_list[@]+"${procs_list[@]}"}; do
    { is_pos_int "$p" && (( p <= 1024 )); } || bad_arg "--procs: '$p' is not an integer from 1 to 1024 (in '$procs_arg')"
done
[[ ${#procs_list[@]} -gt 0 ]] || bad_arg "--procs: empty list"
if [[ -z "$runs" ]]; then runs=$(( quick ? 1 : 3 )); else
    is_pos_int "$runs" || bad_arg "--runs must be a positive integer, got '$runs'"; fi
if [[ -z "$duration" ]]; then duration=$(( quick ? 2 : 10 )); else
    { is_pos_int "$duration" && (( duration <= 3600 )); } || bad_arg "--duration must be a whole number of seconds from 1 to 3600, got '$duration'"; fi
if [[ -z "$warmup" ]]; then warmup=$(( quick ? 0 : 1 )); else
    { [[ "$warmup" =~ ^[0-9]{1,4}$ ]] && (( warmup <= 3600 )); } || bad_arg "--warmup must be a whole number of seconds from 0 to 3600, got '$warmup'"; fi
if [[ -z "$echo_conns" ]]; then echo_conns=$(( quick ? 100 : 1000 )); else
    { is_pos_int "$echo_conns" && (( echo_conns <= 100000 )); } || bad_arg "--echo-conns must be an integer from 1 to 100000, got '$echo_conns'"; fi
split_list http_conns "$http_conns_arg"
for c in ${http_conns[@]+"${http_conns[@]}"}; do
    # wrk needs at least one connection per thread, and it runs two.
    { is_pos_int "$c" && (( c >= 2 && c <= 100000 )); } || bad_arg "--http-conns: '$c' is not an integer from 2 to 100000 (in '$http_conns_arg')"
done
[[ ${#http_conns[@]} -gt 0 ]] || bad_arg "--http-conns: empty list"
for v in "$server_cpus" "$load_cpus"; do
    [[ -z "$v" || "$v" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || bad_arg "--server-cpus/--load-cpus: '$v' is not a CPU list such as 0 or 0,2 or 1-3"
done
[[ -n "$build_dir" ]] || bad_arg "--build-dir must not be empty"
if [[ -z "$save" ]]; then
    save=$( ((quick)) && echo net-quick || echo net-latest )
else
    [[ "$save" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] \
        || bad_arg "--save: '$save' is not a plain file name (letters, digits, . _ -)"
fi

run_http=0 run_echo=0
split_list only_words "$only"
for w in ${only_words[@]+"${only_words[@]}"}; do
    case "$w" in
        http) run_http=1 ;;
        echo) run_echo=1 ;;
        *)    bad_arg "--only: unknown benchmark '$w' (known: http, echo)" ;;
    esac
done
(( run_http || run_echo )) || bad_arg "--only: empty list"
declare -A want_sys=()
split_list sys_words "$systems_arg"
for s in ${sys_words[@]+"${sys_words[@]}"}; do
    case "$s" in
        mn|mnsched)                 want_sys[mnsched]=1 ;;
        go|go-byhand)               want_sys[go]=1 ;;
        nethttp|go-nethttp|net/http) want_sys[nethttp]=1 ;;
        *) bad_arg "--systems: unknown system '$s' (want a list of mn, go, nethttp)" ;;
    esac
done
[[ ${#want_sys[@]} -gt 0 ]] || bad_arg "--systems: empty list"
if (( run_echo && !run_http )) && [[ -z "${want_sys[mnsched]+x}${want_sys[go]+x}" ]]; then
    bad_arg "--systems '$systems_arg' has no system that runs the echo benchmark (mn, go)"
fi

if (( run_http )) && ! command -v wrk >/dev/null 2>&1; then
    printf 'run-net: wrk is not installed; the http benchmark needs it (Debian: apt-get install -y wrk). --only echo runs without it\n' >&2
    exit 2
fi
if [[ -n "$server_cpus$load_cpus" ]] && ! command -v taskset >/dev/null 2>&1; then
    printf 'run-net: --server-cpus/--load-cpus need taskset (Debian: util-linux)\n' >&2
    exit 2
fi

[[ "$build_dir" == /* ]] || build_dir="$repo_root/$build_dir"
build_dir="${build_dir%/}"
# shellcheck disable=SC2034  # read by bench-lib.sh's configure_tree and build_targets
preset_dir="$repo_root/build/release"
results_dir="$repo_root/bench/results"

# --- the cases: one benchmark at one number of connections ------------------------------
cases=()
declare -A case_bench=() case_conns=()
if (( run_http )); then
    for c in "${http_conns[@]}"; do
        [[ -n "${case_bench[http$c]+x}" ]] && continue
        cases+=("http$c"); case_bench[http$c]=http; case_conns[http$c]=$c
    done
fi
if (( run_echo )); then
    cases+=("echo$echo_conns"); case_bench[echo$echo_conns]="echo"; case_conns[echo$echo_conns]=$echo_conns
fi
declare -A bench_metrics=([http]="req_per_sec p50_us p99_us" [echo]="msgs_per_sec p50_us p99_us p999_us")
all_systems=(mnsched go nethttp)
# systems_of BENCH: the chosen systems that run BENCH, in the order they alternate.
systems_of() {
    local s
    for s in "${all_systems[@]}"; do
        [[ -n "${want_sys[$s]+x}" ]] || continue
        [[ "$1" == echo && "$s" == nethttp ]] && continue
        echo "$s"
    done
}
# server_bin BENCH SYSTEM
server_bin() {
    case "$1 $2" in
        "http mnsched") echo "$build_dir/examples/http_hello" ;;
        "http go")      echo "$build_dir/bench/httphello-go" ;;
        "http nethttp") echo "$build_dir/bench/httpnethttp-go" ;;
        "echo mnsched") echo "$build_dir/examples/echo_server" ;;
        "echo go")      echo "$build_dir/bench/echoserver-go" ;;
    esac
}
echo_load_bin="$build_dir/bench/echo_load"

# --- building ---------------------------------------------------------------------------
targets=()
(( run_http )) && [[ -n "${want_sys[mnsched]+x}" ]] && targets+=(http_hello)
(( run_echo )) && [[ -n "${want_sys[mnsched]+x}" ]] && targets+=(echo_server)
(( run_echo )) && targets+=(echo_load)
if [[ ${#targets[@]} -gt 0 ]]; then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        configure_tree || die "configuring $build_dir failed"
    fi
    known="$(tree_targets)" || die "cannot list the targets of $build_dir (cmake --build $build_dir --target help failed)"
    for t in "${targets[@]}"; do
        grep -qxF -- "$t" <<<"$known" \
            || die "$build_dir defines no target '$t' (examples/CMakeLists.txt and bench/CMakeLists.txt define them; are MN_BUILD_EXAMPLES and MN_BUILD_BENCH on?)"
    done
    build_targets "${targets[@]}" || die "building ${targets[*]} failed"
fi

go_version="(not run)"
if [[ -n "${want_sys[go]+x}${want_sys[nethttp]+x}" ]]; then
    go_setup "Run with --systems mn to leave Go out"
    mkdir -p "$build_dir/bench"
    go_dirs=()
    if (( run_http )); then
        [[ -n "${want_sys[go]+x}" ]] && go_dirs+=(httphello)
        [[ -n "${want_sys[nethttp]+x}" ]] && go_dirs+=(httpnethttp)
    fi
    (( run_echo )) && [[ -n "${want_sys[go]+x}" ]] && go_dirs+=(echoserver)
    for d in ${go_dirs[@]+"${go_dirs[@]}"}; do
        log "building $build_dir/bench/$d-go from bench/go/$d"
        go_build "$d" "$build_dir/bench/$d-go" || die "building bench/go/$d failed"
    done
    log "go: $go_version"
fi
for c in "${cases[@]}"; do
    while read -r s; do
        [[ -x "$(server_bin "${case_bench[$c]}" "$s")" ]] || die "no $(server_bin "${case_bench[$c]}" "$s") after the build"
    done < <(systems_of "${case_bench[$c]}")
done
(( run_echo )) && { [[ -x "$echo_load_bin" ]] || die "no $echo_load_bin after the build"; }
build_s=$(( SECONDS - start_s ))

# --- the runs ---------------------------------------------------------------------------
# Each connection is an fd in the load generators and the servers; 1024 is a common soft
# limit. (The servers raise their own limit too, Go's runtime as the mnsched examples.)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp="$(mktemp -d)"
server_pid=""
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
results="$tmp/results"     # "case procs system metric value", in run order
timeouts="$tmp/timeouts"   # "case procs system count" (wrk's timeouts)
: >"$results"
: >"$timeouts"
failures=0
declare -A failed=()       # "case procs system" -> why

server_pfx=()
load_pfx=()
[[ -n "$server_cpus" ]] && server_pfx=(taskset -c "$server_cpus")
[[ -n "$load_cpus" ]] && load_pfx=(taskset -c "$load_cpus")

# start_server BIN PROCS: start it on a free port; sets server_pid and server_port, or
# returns 1 with why set.
start_server() {
    local bin="$1" procs="$2" i line
    # Emptied here, not only by the redirection below: that happens in the child, perhaps
    # after the first look for the line, which would then find the last server's port.
    : >"$tmp/server.out"
    : >"$tmp/server.err"
    "${server_pfx[@]}" "$bin" --addr 127.0.0.1 --port 0 --procs "$procs" \
        </dev/null >"$tmp/server.out" 2>"$tmp/server.err" &
    server_pid=$!
    for ((i = 0; i < 200; i++)); do   # 10 s
        line="$(grep -m 1 '^listening on ' "$tmp/server.out" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            server_port="${line##*:}"
            if [[ "$server_port" =~ ^[1-9][0-9]*$ ]]; then return 0; fi
            why="cannot read a port from '$line'"
            stop_server
            return 1
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            local rc=0
            wait "$server_pid" 2>/dev/null || rc=$?
            server_pid=""
            why="the server exited with status $rc before listening"
            return 1
        fi
        sleep 0.05
    done
    why="the server printed no 'listening on' line within 10 s"
    stop_server
    return 1
}
# stop_server: SIGTERM, then SIGKILL after 5 s. Returns 1 (with why set) if the server had
# already died.
stop_server() {
    local pid="$server_pid" rc=0 i
    server_pid=""
    [[ -n "$pid" ]] || return 0
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || rc=$?
        why="the server died during the load (exit status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))"))"
        return 1
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: the server (pid $pid) ignored SIGTERM for 5 s: killed"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# to_us VALUE: wrk's latency ("473.00us", "1.89ms", "1.02s", "1.50m") in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9]+(\.[0-9]+)?/) == 0) { print "bad"; exit }
        x = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : -1
        if (f < 0) { print "bad"; exit }
        printf "%.1f\n", x * f }'
}
# json_num LINE KEY: the number KEY has in a one-line JSON object.
json_num() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\\(-\\{0,1\\}[0-9][0-9.eE+-]*\\).*/\\1/p"
}

wrk_cmd() { printf 'wrk -t2 -c%s -d%ss --latency http://127.0.0.1:%s/' "$1" "$2" "$3"; }
echo_cmd() {
    printf '%s --addr 127.0.0.1:%s --conns %s --size 64 --threads 2 --duration %ss --warmup %ss' \
        "$echo_load_bin" "$1" "$2" "$3" "$4"
}

# run_one CASE PROCS SYSTEM: one run; prints its line, records its metrics.
run_one() {
    local c="$1" procs="$2" system="$3"
    local bench="${case_bench[$c]}" conns="${case_conns[$c]}"
    local bin rc=0 out="$tmp/load.out" load_timeout=$(( duration + warmup + 60 ))
    local -a load=()
    local repro line m v
    why=""
    bin="$(server_bin "$bench" "$system")"
    # The run's port was the kernel's choice; the commands to reproduce it name a fixed one.
    local rport=9000 rload
    [[ "$bench" == http ]] && rport=8080
    if [[ "$bench" == http ]]; then rload="$(wrk_cmd "$conns" "$duration" "$rport")"
    else rload="$(echo_cmd "$rport" "$conns" "$duration" "$warmup")"; fi
    repro="$bin --addr 127.0.0.1 --port $rport --procs $procs & $rload"
    : >"$out"
    if start_server "$bin" "$procs"; then
        if [[ "$bench" == http ]]; then
            read -r -a load <<<"$(wrk_cmd "$conns" "$duration" "$server_port")"
            if (( warmup > 0 )); then
                local -a warm=()
                read -r -a warm <<<"$(wrk_cmd "$conns" "$warmup" "$server_port")"
                timeout -k 5 "$load_timeout" "${load_pfx[@]}" "${warm[@]}" </dev/null >"$tmp/warm.out" 2>&1 || true
            fi
        else
            read -r -a load <<<"$(echo_cmd "$server_port" "$conns" "$duration" "$warmup")"
        fi
        timeout -k 5 "$load_timeout" "${load_pfx[@]}" "${load[@]}" </dev/null >"$out" 2>&1 || rc=$?
        stop_server || true   # sets why if the server had died
        if [[ -z "$why" ]]; then
            if (( rc == 124 || rc == 137 )); then
                why="the load generator did not finish within ${load_timeout}s (server hung?)"
            elif (( rc != 0 )); then
                why="${load[0]##*/} exited with status $rc"
            fi
        fi
    fi

    declare -A got=()
    if [[ -z "$why" && "$bench" == http ]]; then
        local sock non2xx reqs to
        got[req_per_sec]="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
        got[p50_us]="$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")"
        got[p99_us]="$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")"
        reqs="$(awk '/ requests in / { print $1 }' "$out")"
        non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
        # "Socket errors: connect 0, read 0, write 0, timeout 0", only when one is not 0.
        # A response wrk cannot parse counts as a read error.
        sock="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4, $6, $8, $10 }' "$out")"
        read -r s_connect s_read s_write to <<<"${sock:-0 0 0 0}"
        if [[ -z "$reqs" || "$reqs" == 0 ]]; then
            why="wrk completed no request"
        elif [[ -n "$non2xx" && "$non2xx" != 0 ]]; then
            why="wrk: $non2xx non-2xx answers"
        elif [[ "$s_connect $s_read $s_write" != "0 0 0" ]]; then
            why="wrk: socket errors: connect $s_connect, read $s_read, write $s_write"
        fi
        [[ "$to" =~ ^[0-9]+$ ]] || to=0
        if [[ -z "$why" ]]; then
            printf '%s %s %s %s\n' "$c" "$procs" "$system" "$to" >>"$timeouts"
            (( to == 0 )) || log "warning: $system $bench c=$conns procs=$procs: wrk counted $to timeouts (requests over 2 s, left out of its latencies)"
        fi
    elif [[ -z "$why" ]]; then
        line="$(grep -m 1 '^{"conns"' "$out" || true)"
        if [[ -z "$line" ]]; then
            why="echo_load printed no JSON line"
        else
            got[msgs_per_sec]="$(json_num "$line" msgs_per_sec)"
            got[p50_us]="$(json_num "$line" p50_us)"
            got[p99_us]="$(json_num "$line" p99_us)"
            got[p999_us]="$(json_num "$line" p999_us)"
        fi
    fi
    if [[ -z "$why" ]]; then
        for m in ${bench_metrics[$bench]}; do
            is_num "${got[$m]:-}" || { why="no $m in the load generator's output"; break; }
        done
    fi
    if [[ -n "$why" ]]; then
        [[ -s "$out" ]] && sed 's/^/  | /' "$out" >&2
        [[ -s "$tmp/server.err" ]] && { log "  server stderr:"; tail -n 20 "$tmp/server.err" | sed 's/^/  | /' >&2; }
        log "FAILED: $system $bench c=$conns procs=$procs: $why"
        log "  reproduce: $repro"
        failed["$c $procs $system"]="$why; reproduce: $repro"
        failures=$((failures + 1))
        return 1
    fi
    line="$bench system=$system conns=$conns procs=$procs"
    for m in ${bench_metrics[$bench]}; do
        line+=" $m=${got[$m]}"
        printf '%s %s %s %s %s\n' "$c" "$procs" "$system" "$m" "${got[$m]}" >>"$results"
    done
    printf '%s\n' "$line"
}

log "benchmarks: ${cases[*]} (http<C>: wrk -c<C>; echo<N>: echo_load --conns <N>); procs: ${procs_list[*]}; runs: $runs; ${duration}s loads, ${warmup}s warm-up$( ((quick)) && echo '; quick')"
log "$(nproc 2>/dev/null || echo '?') CPUs; servers pinned to: ${server_cpus:-nothing}; load pinned to: ${load_cpus:-nothing}"
runs_start_s=$SECONDS
for p in "${procs_list[@]}"; do
    for c in "${cases[@]}"; do
        mapfile -t csys < <(systems_of "${case_bench[$c]}")
        for ((i = 1; i <= runs; i++)); do
            for s in "${csys[@]}"; do
                [[ -n "${failed["$c $p $s"]+x}" ]] && continue
                run_one "$c" "$p" "$s" || true
            done
        done
    done
done
runs_s=$(( SECONDS - runs_start_s ))

# --- the table and the JSON -------------------------------------------------------------
stats() {
    awk -v c="$1" -v p="$2" -v s="$3" -v m="$4" '$1 == c && $2 == p && $3 == s && $4 == m { print $5 }' "$results" \
        | summarize_values
}
higher_better() { [[ "$1" == *_per_sec ]]; }
unit() { case "$1" in *_us) echo us ;; *) echo 1/s ;; esac; }
# advantage MN OTHER METRIC: how much better mnsched did, above 1 when it did better.
advantage() {
    if higher_better "$3"; then ratio "$1" "$2"; else ratio "$2" "$1"; fi
}

shown=()
for s in "${all_systems[@]}"; do [[ -n "${want_sys[$s]+x}" ]] && shown+=("$s"); done
echo
printf 'median ±spread of %s run(s) per cell; spread = 100 * (max - min) / 2 / median, in percent\n' "$runs"
if [[ -n "${want_sys[mnsched]+x}" && ${#shown[@]} -gt 1 ]]; then
    printf 'vs X = mnsched median / X median for throughput (*_per_sec), X median / mnsched median for latency (*_us):\n'
    printf 'above 1 means mnsched did better\n'
fi
hdr=("bench" "conns" "procs" "metric") sep=("-----" "------" "-----" "------------")
fmt='%-5s %6s %5s %-12s'
for s in "${shown[@]}"; do hdr+=("$s"); sep+=("-----------------"); fmt+=' %17s'; done
others=()
if [[ -n "${want_sys[mnsched]+x}" ]]; then
    for s in go nethttp; do
        [[ -n "${want_sys[$s]+x}" ]] || continue
        others+=("$s"); hdr+=("vs $s"); sep+=("----------"); fmt+=' %10s'
    done
fi
fmt+='\n'
# shellcheck disable=SC2059
printf "$fmt" "${hdr[@]}"
# shellcheck disable=SC2059
printf "$fmt" "${sep[@]}"
cells="$tmp/cells"
: >"$cells"
for c in "${cases[@]}"; do
    bench="${case_bench[$c]}" conns="${case_conns[$c]}"
    if [[ "$bench" == http ]]; then load_text="wrk -t2 -c$conns -d${duration}s --latency"
    else load_text="echo_load --conns $conns --size 64 --threads 2 --duration ${duration}s --warmup ${warmup}s"; fi
    mapfile -t csys < <(systems_of "$bench")
    for p in "${procs_list[@]}"; do
        for m in ${bench_metrics[$bench]}; do
            declare -A med=()
            row=("$bench" "$conns" "$p" "$m")
            for s in "${csys[@]}"; do
                read -r md _ <<<"$(stats "$c" "$p" "$s" "$m")"
                med[$s]="$md"
                [[ -n "${failed["$c $p $s"]+x}" ]] && med[$s]="FAIL"
            done
            for s in "${shown[@]}"; do
                v="${med[$s]:--}"
                if is_num "$v"; then
                    read -r md _ _ sp _ <<<"$(stats "$c" "$p" "$s" "$m")"
                    if higher_better "$m"; then v="$(printf '%.0f' "$md")"; else v="$(printf '%.1f' "$md")"; fi
                    [[ "$sp" != - ]] && v+=" ±$sp%"
                fi
                row+=("$v")
            done
            declare -A adv=()
            for o in ${others[@]+"${others[@]}"}; do
                adv[$o]="-"
                [[ " ${csys[*]} " == *" $o "* ]] && adv[$o]="$(advantage "${med[mnsched]:--}" "${med[$o]:--}" "$m")"
                row+=("${adv[$o]}")
            done
            # shellcheck disable=SC2059
            printf "$fmt" "${row[@]}"
            for s in "${csys[@]}"; do
                read -r md lo hi sp _ list <<<"$(stats "$c" "$p" "$s" "$m")"
                err=""
                [[ -n "${failed["$c $p $s"]+x}" ]] && err="${failed["$c $p $s"]}"
                vs_go="" vs_nethttp="" to=""
                if [[ "$s" == mnsched ]]; then vs_go="${adv[go]:-}"; vs_nethttp="${adv[nethttp]:-}"; fi
                [[ "$bench" == http && -z "$err" ]] && to="$(awk -v c="$c" -v p="$p" -v s="$s" '$1 == c && $2 == p && $3 == s { t += $4 } END { print t + 0 }' "$timeouts")"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                    "$bench" "$conns" "$p" "$s" "$m" "$(unit "$m")" \
                    "$(higher_better "$m" && echo higher || echo lower)" "$load_text" "$duration" \
                    "$md" "$sp" "$lo" "$hi" "$list" "$vs_go" "$vs_nethttp" "$to" "${err//$'\t'/ }" >>"$cells"
            done
            unset med adv
        done
    done
done
echo
printf 'mnsched: %s\n' "$([[ -n "${want_sys[mnsched]+x}" ]] && echo "$build_dir/examples" || echo "(not run)")"
printf 'go: %s\n' "$go_version"
printf 'load: %s; %s CPUs, shared by the servers and the load%s\n' \
    "$( ((run_http)) && wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')$( ((run_http && run_echo)) && echo ', ')$( ((run_echo)) && echo "bench/echo_load")" \
    "$(nproc 2>/dev/null || echo '?')" \
    "$([[ -n "$server_cpus$load_cpus" ]] && echo " (servers on CPUs ${server_cpus:-any}, load on ${load_cpus:-any})")"

write_json() {
    awk -F '\t' '
        function q(s) {
            gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\001-\037]/, " ", s)
            return "\"" s "\""
        }
        function num(s) { return (s ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) ? s : "null" }
        BEGIN { printf "[" }
        {
            runs = $14; gsub(/,/, ", ", runs)
            printf "%s\n  {\"bench\": %s, \"conns\": %s, \"procs\": %s, \"system\": %s, \"metric\": %s, \"unit\": %s, \"better\": %s, \"load\": %s, \"duration_s\": %s, ", \
                (NR > 1 ? "," : ""), q($1), num($2), num($3), q($4), q($5), q($6), q($7), q($8), num($9)
            printf "\"median\": %s, \"spread\": %s, \"min\": %s, \"max\": %s, \"runs\": [%s], \"vs_go\": %s, \"vs_nethttp\": %s, \"wrk_timeouts\": %s, \"error\": %s}", \
                ($18 == "" ? num($10) : "null"), num($11), num($12), num($13), runs, num($15), num($16), num($17), ($18 == "" ? "null" : q($18))
        }
        END { printf "%s]\n", (NR > 0 ? "\n" : "") }
    ' "$cells" >"$1.tmp" && mv "$1.tmp" "$1"
}
if [[ "$save" != none ]]; then
    mkdir -p "$results_dir"
    json="$results_dir/$save.json"
    write_json "$json" || die "writing $json failed"
    printf 'results: %s\n' "${json#"$repo_root"/}"
fi
time_and_failures "$build_s" "$runs_s" || exit 1
exit 0
