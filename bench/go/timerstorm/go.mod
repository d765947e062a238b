module mnsched/bench/timerstorm

go 1.19
