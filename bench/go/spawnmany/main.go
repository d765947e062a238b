// Command spawnmany is the Go side of the spawn_many benchmark (bench/spawn_many.cpp is
// mnsched's): the main goroutine starts n empty goroutines and waits for them all on a
// sync.WaitGroup, rounds times. It measures start + run + exit of a goroutine, and the
// wait, per task. Each task marks its own slot, so every slot must end at rounds. The
// flags, the rounds, the output and the check are package spawnrounds' (shared with
// spawnremote); this program starts the goroutines.
//
// Usage: spawnmany [-n N] [-rounds R]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/spawn_many prints too (ns_per_task is the total time over n*rounds):
//
//	spawn_many system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
//
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
package main

import "mnsched/bench/go/internal/spawnrounds"

func main() {
	// The main goroutine starts each round's goroutines itself.
	spawnrounds.Main("spawn_many", func(spawn func()) (func(int64), func()) {
		return func(int64) { spawn() }, func() {}
	})
}
