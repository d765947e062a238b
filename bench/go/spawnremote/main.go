// Command spawnremote is the Go side of the spawn_remote benchmark (bench/spawn_remote.cpp
// is mnsched's): n empty goroutines are started from "outside" while the main goroutine
// waits for them on a sync.WaitGroup, rounds times. mnsched's side spawns from a plain
// thread outside its runtime (its Gs go to the global queue and an M is woken). Go has no
// threads outside its runtime, so the closest thing here is a goroutine that called
// runtime.LockOSThread: it has an M of its own, which sleeps while it waits for a round
// and must be handed a P to wake, but the goroutines it starts still go to that P's local
// queue (runnext), not to the global queue, so this is not the same path as mnsched's.
// The spawner is started (and locked) before the clock and does every round: the main
// goroutine adds n to the WaitGroup, sends the round on an unbuffered channel the spawner
// waits on, and waits. Each task marks its own slot, so every slot must end at rounds.
//
// Usage: spawnremote [-n N] [-rounds R]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/spawn_remote prints too (ns_per_task is the total time over n*rounds):
//
//	spawn_remote system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
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
	benchflag.Parse("spawn_remote")
	benchflag.Range("spawn_remote", "n", *n, 1, 10000000)
	// A task's count (int32) reaches rounds.
	benchflag.Range("spawn_remote", "rounds", *rounds, 1, 1000000000)
	tasks, r := *n, *rounds
	procs := runtime.GOMAXPROCS(0)

	ran := make([]int32, tasks) // ran[i]: times task i ran
	var wg sync.WaitGroup
	round := make(chan int64) // unbuffered: round k starts when the spawner takes k
	locked := make(chan struct{})
	exited := make(chan struct{})
	go func() { // the spawner, on a thread of its own
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(locked)
		for range round {
			for i := int64(0); i < tasks; i++ {
				go func(i int64) {
					ran[i]++
					wg.Done()
				}(i)
			}
		}
		close(exited)
	}()
	<-locked

	start := time.Now()
	for k := int64(0); k < r; k++ {
		wg.Add(int(tasks)) // before the spawner starts the round, so that Wait cannot pass early
		round <- k
		wg.Wait()
	}
	elapsed := time.Since(start)
	close(round)
	<-exited

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("spawn_remote system=go procs=%d n=%d rounds=%d ms=%.1f ns_per_task=%.1f\n",
		procs, tasks, r, ns/1e6, ns/(float64(tasks)*float64(r)))
	for i, c := range ran {
		if int64(c) != r {
			fmt.Fprintf(os.Stderr, "spawn_remote: task %d ran %d times, want %d\n", i, c, r)
			os.Exit(1)
		}
	}
}
