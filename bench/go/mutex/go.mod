module mnsched/bench/mutex

go 1.19
