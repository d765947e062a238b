// Command chanmpmc is the Go side of the chan_mpmc benchmark (bench/chan_mpmc.cpp is
// mnsched's): 4 producers send the values 0..n-1 (each a contiguous quarter) into one
// buffered channel of capacity 1024; 4 consumers drain it and sum what they get. The
// total must be n*(n-1)/2.
//
// Usage: chanmpmc [-n N]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/chan_mpmc prints too:
//
//	chan_mpmc system=go procs=<GOMAXPROCS> n=<N> ms=<wall ms> ns_per_item=<x.x>
//
// Exit status: 0 on success, 1 if the sum is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const (
	producers = 4
	consumers = 4
	capacity  = 1024
)

func main() {
	items := benchflag.ParseFlags(benchflag.Spec{
		Prog:   "chan_mpmc",
		N:      1000000,
		NUsage: "items in total (the values 0..n-1)",
		MaxN:   1000000000, // the sum n*(n-1)/2 must fit in an int64
	}).N
	want := items * (items - 1) / 2
	stopTrace := benchflag.Trace("chan_mpmc")
	procs := runtime.GOMAXPROCS(0)

	ch := make(chan int64, capacity)
	var sums [consumers]int64
	var prodWG, consWG sync.WaitGroup
	prodWG.Add(producers)
	consWG.Add(consumers)
	start := time.Now()
	for c := 0; c < consumers; c++ {
		c := c
		go func() {
			defer consWG.Done()
			var s int64
			for v := range ch {
				s += v
			}
			sums[c] = s
		}()
	}
	for p := int64(0); p < producers; p++ {
		lo, hi := p*items/producers, (p+1)*items/producers
		go func() {
			defer prodWG.Done()
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}()
	}
	prodWG.Wait()
	close(ch)
	consWG.Wait()
	elapsed := time.Since(start)

	var sum int64
	for _, s := range sums {
		sum += s
	}
	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("chan_mpmc system=go procs=%d n=%d ms=%.1f ns_per_item=%.1f\n",
		procs, items, ns/1e6, ns/float64(items))
	stopTrace()
	if sum != want {
		fmt.Fprintf(os.Stderr, "chan_mpmc: sum is %d, want %d\n", sum, want)
		os.Exit(1)
	}
}
