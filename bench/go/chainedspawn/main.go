// Command chainedspawn is the Go side of the chained_spawn benchmark
// (bench/chained_spawn.cpp is mnsched's): a chain of n goroutines, each starting the next
// and exiting; the last sends the chain's count of links run on an unbuffered channel the
// main goroutine waits on, rounds times. It measures start + run + exit of a goroutine
// when each is started by the one before (so it lands in that P's runnext), per spawn.
// Every link adds one to the round's count (a plain counter: each go statement orders it
// before the next link), which must be n.
//
// Usage: chainedspawn [-n N] [-rounds R]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/chained_spawn prints too (ns_per_spawn is the total time over n*rounds;
// the main goroutine starts the first link of each chain):
//
//	chained_spawn system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_spawn=<x.x>
//
// Exit status: 0 on success, 1 if a chain's count is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	f := benchflag.ParseFlags(benchflag.Spec{
		Prog:      "chained_spawn",
		N:         1000,
		NUsage:    "chain length",
		MaxN:      1000000000,
		Rounds:    1000,
		MaxRounds: 1000000000, // n*rounds must fit in an int64
	})
	length, r := f.N, f.Rounds
	stopTrace := benchflag.Trace("chained_spawn")
	procs := runtime.GOMAXPROCS(0)

	done := make(chan int64) // unbuffered
	var links int64          // links run in this round's chain
	// link k of the chain: counts itself, then starts link k+1, or, being the last,
	// sends the count on done.
	var link func(k int64)
	link = func(k int64) {
		links++
		if k == length {
			done <- links
			return
		}
		go link(k + 1)
	}

	var wrong, last int64 // chains whose count was not n; the last such count
	start := time.Now()
	for k := int64(0); k < r; k++ {
		links = 0
		go link(1)
		if c := <-done; c != length {
			wrong++
			last = c
		}
	}
	elapsed := time.Since(start)

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("chained_spawn system=go procs=%d n=%d rounds=%d ms=%.1f ns_per_spawn=%.1f\n",
		procs, length, r, ns/1e6, ns/(float64(length)*float64(r)))
	stopTrace()
	if wrong != 0 {
		fmt.Fprintf(os.Stderr, "chained_spawn: %d chains ran %d links, want %d\n", wrong, last, length)
		os.Exit(1)
	}
}
