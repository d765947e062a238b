// Package spawnrounds holds what the Go sides of spawn_many and spawn_remote
// (bench/go/spawnmany, bench/go/spawnremote) share: everything but who starts the tasks.
// Both take -n N (tasks per round, default 10000) and -rounds R (default 100), keep a slot
// per task that counts the rounds it ran in, and time R rounds in which the main goroutine
// adds n to a sync.WaitGroup, has the round's n empty goroutines started, and waits for
// them. Then they print
//
//	<prog> system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
//
// (ns_per_task is the total time over n*rounds) and check that every slot ends at R: exit
// status 1 (with a message) if a task did not run exactly once per round, 2 on bad
// arguments.
package spawnrounds

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

// Main is the main of a spawn_* program named prog. Before the clock starts it calls setup
// with spawn, which starts the n goroutines of a round (each marks its slot and calls Done
// on the round's WaitGroup) without waiting for them. setup returns round, which must have
// spawn called once for round k (round is called between the WaitGroup's Add and Wait),
// and stop, which is called once after the clock stops.
func Main(prog string, setup func(spawn func()) (round func(k int64), stop func())) {
	f := benchflag.ParseFlags(benchflag.Spec{
		Prog:      prog,
		N:         10000,
		NUsage:    "tasks per round",
		MaxN:      10000000,
		Rounds:    100,
		MaxRounds: 1000000000, // a task's count (int32) reaches rounds
	})
	tasks, r := f.N, f.Rounds
	stopTrace := benchflag.Trace(prog)
	procs := runtime.GOMAXPROCS(0)

	ran := make([]int32, tasks) // ran[i]: times task i ran
	var wg sync.WaitGroup
	spawn := func() {
		for i := int64(0); i < tasks; i++ {
			go func(i int64) {
				ran[i]++
				wg.Done()
			}(i)
		}
	}
	round, stop := setup(spawn)

	start := time.Now()
	for k := int64(0); k < r; k++ {
		wg.Add(int(tasks)) // before the round's goroutines start, so that Wait cannot pass early
		round(k)
		wg.Wait()
	}
	elapsed := time.Since(start)
	stop()

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("%s system=go procs=%d n=%d rounds=%d ms=%.1f ns_per_task=%.1f\n",
		prog, procs, tasks, r, ns/1e6, ns/(float64(tasks)*float64(r)))
	stopTrace()
	for i, c := range ran {
		if int64(c) != r {
			fmt.Fprintf(os.Stderr, "%s: task %d ran %d times, want %d\n", prog, i, c, r)
			os.Exit(1)
		}
	}
}
