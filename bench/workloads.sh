# shellcheck shell=bash disable=SC2034,SC2154  # the tables are read, and procs_list, procs_arg and case_args set, by the scripts that source this
# The benchmark suite's workloads, shared by bench/run-compare.sh (mnsched against Go and
# Boost.Fiber), bench/run-feedback-cost.sh (mnsched with kernel feedback off and on) and
# bench/run-trace-overhead.sh (mnsched with tracing off and on), so that all run the same
# programs at the same sizes, and the functions that pick and check the cases. Sourced
# after bench-lib.sh, not run.
#
# A workload is what --only names; a case is one line of results (timer_storm runs as two
# cases: timer_storm at 100,000 sleepers and timer_light at 1,000). Per case: the CMake
# target (build/<preset>/bench/<target>), the line's first word, the flags with their full
# and quick values ("flag=value ...", passed as --flag value; each must come back as
# flag=value in the line, the first always, the others when the line has them; the first is
# the size, shown as n), the metrics to tabulate, and the only procs value it runs at, if any.

all_workloads=(skynet pingpong pingpong_hog spawn_many spawn_remote yield_many chained_spawn
               chan_mpmc timer_storm timer_light mutex blocking)
all_cases=(skynet pingpong pingpong_hog spawn_many spawn_remote yield_many chained_spawn
           chan_mpmc timer_storm timer_light mutex blocking)
declare -A workload_cases=(
    [skynet]="skynet"
    [pingpong]="pingpong"
    [pingpong_hog]="pingpong_hog"
    [spawn_many]="spawn_many"
    [spawn_remote]="spawn_remote"
    [yield_many]="yield_many"
    [chained_spawn]="chained_spawn"
    [chan_mpmc]="chan_mpmc"
    [timer_storm]="timer_storm timer_light"
    [timer_light]="timer_light"
    [mutex]="mutex"
    [blocking]="blocking"
)
declare -A case_target=(
    [skynet]=skynet [pingpong]=pingpong [pingpong_hog]=pingpong_hog
    [spawn_many]=spawn_many [spawn_remote]=spawn_remote [yield_many]=yield_many
    [chained_spawn]=chained_spawn [chan_mpmc]=chan_mpmc
    [timer_storm]=timer_storm [timer_light]=timer_storm [mutex]=mutex_contention
    [blocking]=blocking
)
declare -A case_word=(
    [skynet]=skynet [pingpong]=pingpong [pingpong_hog]=pingpong_hog
    [spawn_many]=spawn_many [spawn_remote]=spawn_remote [yield_many]=yield_many
    [chained_spawn]=chained_spawn [chan_mpmc]=chan_mpmc
    [timer_storm]=timer_storm [timer_light]=timer_storm [mutex]=mutex
    [blocking]=blocking
)
declare -A case_full=(
    [skynet]="leaves=1000000" [pingpong]="n=1000000" [pingpong_hog]="n=100000"
    [spawn_many]="n=10000 rounds=100" [spawn_remote]="n=10000 rounds=100"
    [yield_many]="n=1000 rounds=20" [chained_spawn]="n=1000 rounds=1000"
    [chan_mpmc]="n=1000000" [timer_storm]="n=100000" [timer_light]="n=1000"
    [mutex]="n=1000000" [blocking]="n=10000000"
)
declare -A case_quick=(
    [skynet]="leaves=100000" [pingpong]="n=100000" [pingpong_hog]="n=10000"
    [spawn_many]="n=10000 rounds=10" [spawn_remote]="n=10000 rounds=10"
    [yield_many]="n=1000 rounds=2" [chained_spawn]="n=1000 rounds=100"
    [chan_mpmc]="n=100000" [timer_storm]="n=10000" [timer_light]="n=1000"
    [mutex]="n=100000" [blocking]="n=1000000"
)
declare -A case_metrics=(
    [skynet]="ms" [pingpong]="ns_per_roundtrip" [pingpong_hog]="ns_per_op"
    [spawn_many]="ns_per_task" [spawn_remote]="ns_per_task" [yield_many]="ns_per_yield"
    [chained_spawn]="ns_per_spawn" [chan_mpmc]="ns_per_item"
    [timer_storm]="ms p50_us p99_us max_us" [timer_light]="p50_us p99_us max_us"
    [mutex]="ns_per_op"
    [blocking]="raw_ns syscall_ns overhead_ns"
)
declare -A case_only_procs=(
    [pingpong_hog]=1
)

# --- choosing and running cases (the callers define bad_arg MSG and log MSG, and set
# procs_list (the --procs values), procs_arg (--procs as given) and case_args) -----------

# select_cases ONLY: the cases --only ONLY names (workload names, separated by commas or
# blanks; empty: all), in the canonical order whatever the order of ONLY, into the array
# `cases`. A case pinned to one procs value runs only if procs_list has that value.
select_cases() {
    local -A wanted=()
    local name c
    local -a only_words=()
    if [[ -n "$1" ]]; then
        split_list only_words "$1"
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
        [[ -n "${wanted[$c]+x}" ]] || continue
        if [[ -n "${case_only_procs[$c]+x}" && " ${procs_list[*]} " != *" ${case_only_procs[$c]} "* ]]; then
            log "note: $c runs at procs=${case_only_procs[$c]} only, which --procs '${procs_arg}' leaves out: skipped"
            continue
        fi
        cases+=("$c")
    done
    [[ ${#cases[@]} -gt 0 ]] || bad_arg "nothing to run with --only '$1' and --procs '$procs_arg'"
}

# set_case_args: for each of `cases`, case_args[CASE] (its quick sizes with the caller's
# $quick, else its full ones); and `targets`, the distinct CMake targets of the cases.
set_case_args() {
    local c t
    declare -gA case_args=()
    targets=()
    for c in "${cases[@]}"; do
        if (( quick )); then case_args[$c]="${case_quick[$c]}"; else case_args[$c]="${case_full[$c]}"; fi
        t="${case_target[$c]}"
        [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t")
    done
}

# procs_of CASE: the procs values CASE runs at.
procs_of() {
    if [[ -n "${case_only_procs[$1]+x}" ]]; then
        printf '%s\n' "${case_only_procs[$1]}"
    else
        printf '%s\n' "${procs_list[@]}"
    fi
}

# case_cmd CASE BIN: into the array `cmd`, BIN with CASE's flags at its case_args sizes.
case_cmd() {
    local kv
    cmd=("$2")
    for kv in ${case_args[$1]}; do cmd+=("--${kv%%=*}" "${kv#*=}"); done
}

# run_case [--go] CASE PROCS SIDE LABEL [VAR=VALUE...]: runs mnsched's program for CASE
# (with --go, Go's: bench-lib.sh's go_bin) once, at case_args' sizes, with these variables
# added to the environment; prints its line after SIDE and records its metrics in $results
# ("case procs side metric value", bench-lib.sh's case_stats reads them). A failure (exit
# status, timeout, no line or a bad one) goes to fail_run under the key "CASE PROCS SIDE",
# named LABEL, and returns 1. Uses the caller's mn_bin, timeout_s, outfile and errfile.
run_case() {
    local system=mnsched
    [[ "$1" == --go ]] && { system=go; shift; }
    local c="$1" procs="$2" side="$3" label="$4"
    shift 4
    local word="${case_word[$c]}" rc=0 line m why
    local -a cmd
    if [[ "$system" == go ]]; then
        case_cmd "$c" "$(go_bin "${case_target[$c]}")"
    else
        case_cmd "$c" "$(mn_bin "${case_target[$c]}")"
    fi
    env "$@" timeout -k 10 "$timeout_s" "${cmd[@]}" </dev/null >"$outfile" 2>"$errfile" || rc=$?
    line="$(grep -E "^$word system=$system " "$outfile" | tail -n 1 || true)"
    why="$(exit_why "$rc")"
    [[ -z "$why" && -z "$line" ]] && why="printed no '$word system=$system ...' line"
    [[ -z "$why" ]] && why="$(check_line "$c" "$line")"
    if [[ -n "$why" ]]; then
        fail_run "$c $procs $side" "$why" "$* ${cmd[*]}" "$label, $c procs=$procs"
        return 1
    fi
    printf '%-9s %s\n' "$side" "$line"
    for m in ${case_metrics[$c]}; do
        printf '%s %s %s %s %s\n' "$c" "$procs" "$side" "$m" "$(field "$line" "$m")" >>"$results"
    done
}

# godir_of CASE: the Go program of CASE, bench/go/<dir>, for the drivers that run Go as
# the peer (bench-lib.sh's go_build_cases): its line's first word without the underscores
# (bench/go/timerstorm prints timer_storm lines, bench/go/mutex mutex lines).
godir_of() { printf '%s\n' "${case_word[$1]//_/}"; }

# size_label CASE: the n column: the size, times the rounds when there are rounds.
size_label() {
    local kv out=""
    for kv in ${case_args[$1]}; do out+="${out:+x}${kv#*=}"; done
    printf '%s\n' "$out"
}

# check_line CASE LINE: why LINE is not a good result line of CASE (its first flag must
# come back with the value given, the others when the line has them; each metric must be
# a number), or nothing when it is one. Needs bench-lib.sh's field and has_field.
check_line() {
    local c="$1" line="$2" kv k m v first=1
    for kv in ${case_args[$c]}; do
        k="${kv%%=*}"
        if (( first )) || has_field "$line" "$k"; then
            [[ "$(field "$line" "$k")" == "${kv#*=}" ]] || { echo "$k= is not ${kv#*=} in: $line"; return; }
        fi
        first=0
    done
    for m in ${case_metrics[$c]}; do
        v="$(field "$line" "$m")"
        [[ "$v" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || { echo "bad or missing $m= in: $line"; return; }
    done
}
