module mnsched/bench/skynet

go 1.19
