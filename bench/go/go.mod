module mnsched/bench/go

go 1.19
