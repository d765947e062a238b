// Command pingpong is the Go side of the pingpong benchmark (bench/pingpong.cpp is
// mnsched's): two goroutines bounce a counter over two unbuffered channels, n round
// trips. Each side adds one, so the counter ends at 2n.
//
// Usage: pingpong [-n N]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/pingpong prints too:
//
//	pingpong system=go procs=<GOMAXPROCS> n=<N> ms=<wall ms> ns_per_roundtrip=<x.x>
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

func main() {
	rounds := benchflag.ParseFlags(benchflag.Spec{
		Prog:   "pingpong",
		N:      1000000,
		NUsage: "round trips",
		MaxN:   1000000000000,
	}).N
	stopTrace := benchflag.Trace("pingpong")
	procs := runtime.GOMAXPROCS(0)

	ping := make(chan int64)
	pong := make(chan int64)
	var result int64
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() { // the server: every value comes back one larger
		defer wg.Done()
		for v := range ping {
			pong <- v + 1
		}
	}()
	go func() { // the client: n round trips
		defer wg.Done()
		var v int64
		for i := int64(0); i < rounds; i++ {
			ping <- v + 1
			v = <-pong
		}
		close(ping)
		result = v
	}()
	wg.Wait()
	elapsed := time.Since(start)

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("pingpong system=go procs=%d n=%d ms=%.1f ns_per_roundtrip=%.1f\n",
		procs, rounds, ns/1e6, ns/float64(rounds))
	stopTrace()
	if result != 2*rounds {
		fmt.Fprintf(os.Stderr, "pingpong: counter is %d, want %d\n", result, 2*rounds)
		os.Exit(1)
	}
}
