// Command mutex is the Go side of the mutex benchmark (bench/mutex_contention.cpp is
// mnsched's): 8 goroutines contend on one sync.Mutex, n critical sections in total (split
// as evenly as possible), each incrementing a shared counter, which must end at n.
//
// Usage: mutex [-n N]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/mutex_contention prints too:
//
//	mutex system=go procs=<GOMAXPROCS> n=<N> ms=<wall ms> ns_per_op=<x.x>
//
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const workers = 8

func main() {
	ops := benchflag.ParseFlags(benchflag.Spec{
		Prog:   "mutex",
		N:      1000000,
		NUsage: "critical sections in total",
		MaxN:   1000000000000,
	}).N
	stopTrace := benchflag.Trace("mutex")
	procs := runtime.GOMAXPROCS(0)

	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	wg.Add(workers)
	start := time.Now()
	for w := int64(0); w < workers; w++ {
		k := (w+1)*ops/workers - w*ops/workers
		go func() {
			defer wg.Done()
			for i := int64(0); i < k; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("mutex system=go procs=%d n=%d ms=%.1f ns_per_op=%.1f\n",
		procs, ops, ns/1e6, ns/float64(ops))
	stopTrace()
	if counter != ops {
		fmt.Fprintf(os.Stderr, "mutex: counter is %d, want %d\n", counter, ops)
		os.Exit(1)
	}
}
