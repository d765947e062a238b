module mnsched/bench/pingpong

go 1.19
