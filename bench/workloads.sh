# shellcheck shell=bash disable=SC2034  # the tables are read by the scripts that source this
# The benchmark suite's workloads, shared by bench/run-compare.sh (mnsched against Go and
# Boost.Fiber) and bench/run-feedback-cost.sh (mnsched with kernel feedback off and on), so
# that both run the same programs at the same sizes. Sourced, not run.
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
