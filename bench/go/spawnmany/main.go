// Command spawnmany is the Go side of the spawn_many benchmark (bench/spawn_many.cpp is
// mnsched's): the main goroutine starts n empty goroutines and waits for them all on a
// sync.WaitGroup, rounds times. It measures start + run + exit of a goroutine, and the
// wait, per task. Each task marks its own slot, so every slot must end at rounds.
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

import (
	"mnsched/bench/go/internal/benchflag"

	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int64("n", 10000, "tasks per round")
	rounds := flag.Int64("rounds", 100, "rounds")
	benchflag.Parse("spawn_many")
	benchflag.Range("spawn_many", "n", *n, 1, 10000000)
	// A task's count (int32) reaches rounds.
	benchflag.Range("spawn_many", "rounds", *rounds, 1, 1000000000)
	tasks, r := *n, *rounds
	procs := runtime.GOMAXPROCS(0)

	ran := make([]int32, tasks) // ran[i]: times task i ran
	var wg sync.WaitGroup
	start := time.Now()
	for k := int64(0); k < r; k++ {
		wg.Add(int(tasks))
		for i := int64(0); i < tasks; i++ {
			go func(i int64) {
				ran[i]++
				wg.Done()
			}(i)
		}
		wg.Wait()
	}
	elapsed := time.Since(start)

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("spawn_many system=go procs=%d n=%d rounds=%d ms=%.1f ns_per_task=%.1f\n",
		procs, tasks, r, ns/1e6, ns/(float64(tasks)*float64(r)))
	for i, c := range ran {
		if int64(c) != r {
			fmt.Fprintf(os.Stderr, "spawn_many: task %d ran %d times, want %d\n", i, c, r)
			os.Exit(1)
		}
	}
}
