// Command yieldmany is the Go side of the yield_many benchmark (bench/yield_many.cpp is
// mnsched's): 200 goroutines each call runtime.Gosched n times, and the main goroutine
// waits for them on a sync.WaitGroup, rounds times. It measures a yield (the goroutine
// goes to the global run queue and the next runnable one runs) per call. Each goroutine
// adds its count of yields to its own slot, and the counts must add up to 200*n*rounds.
//
// Usage: yieldmany [-n N] [-rounds R]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/yield_many prints too (ns_per_yield is the total time over
// 200*n*rounds; starting the 200 goroutines is included, and negligible):
//
//	yield_many system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_yield=<x.x>
//
// Exit status: 0 on success, 1 if the count of yields is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const tasks = 200

func main() {
	f := benchflag.ParseFlags(benchflag.Spec{
		Prog:      "yield_many",
		N:         1000,
		NUsage:    "yields per task",
		MaxN:      1000000000,
		Rounds:    20,
		MaxRounds: 1000000, // 200*n*rounds must fit in an int64
	})
	yields, r := f.N, f.Rounds
	stopTrace := benchflag.Trace("yield_many")
	procs := runtime.GOMAXPROCS(0)

	var counts [tasks]int64 // counts[t]: yields made by task t, over all rounds
	var wg sync.WaitGroup
	start := time.Now()
	for k := int64(0); k < r; k++ {
		wg.Add(tasks)
		for t := 0; t < tasks; t++ {
			go func(t int) {
				var c int64
				for i := int64(0); i < yields; i++ {
					runtime.Gosched()
					c++
				}
				counts[t] += c
				wg.Done()
			}(t)
		}
		wg.Wait()
	}
	elapsed := time.Since(start)

	want := tasks * yields * r
	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("yield_many system=go procs=%d n=%d rounds=%d ms=%.1f ns_per_yield=%.1f\n",
		procs, yields, r, ns/1e6, ns/float64(want))
	stopTrace()
	var total int64
	for _, c := range counts {
		total += c
	}
	if total != want {
		fmt.Fprintf(os.Stderr, "yield_many: %d yields, want %d\n", total, want)
		os.Exit(1)
	}
}
