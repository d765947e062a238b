module mnsched/bench/chanmpmc

go 1.19
