// Command pingponghog is the Go side of the pingpong_hog benchmark
// (bench/pingpong_hog.cpp is mnsched's), and Go's own BenchmarkPingPongHog
// (runtime/proc_test.go) as a program: a hog goroutine spins on a non-blocking select
// (receive from stop, or default) while two goroutines ping-pong n times over two
// unbuffered channels; the main goroutine starts the ping-pong and waits for stop to be
// closed. At GOMAXPROCS=1 the pair and the hog share one P, so this measures how the
// scheduler shares it: a goroutine readied by a channel goes to runnext and inherits the
// time slice of the one that readied it, so the pair runs for a slice and then the hog
// does. Slow by design. Go's benchmark sets GOMAXPROCS to 1 itself; here the environment
// decides, as for the other workloads. The values are a counter rather than the
// benchmark's bools: each side adds one, so the value the main goroutine takes back at
// the end must be 2n.
//
// Usage: pingponghog [-n N]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/pingpong_hog prints too (the time runs from the first ping to stop's
// close, as the benchmark's b.ResetTimer / b.StopTimer; ns_per_op is it over n):
//
//	pingpong_hog system=go procs=<GOMAXPROCS> n=<N> ms=<wall ms> ns_per_op=<x.x>
//
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	ops := benchflag.ParseFlags(benchflag.Spec{
		Prog:   "pingpong_hog",
		N:      100000,
		NUsage: "ping-pongs",
		MaxN:   1000000000000,
	}).N
	stopTrace := benchflag.Trace("pingpong_hog")
	procs := runtime.GOMAXPROCS(0)

	// Create a CPU hog
	stop, done := make(chan bool), make(chan bool)
	go func() {
		for {
			select {
			case <-stop:
				done <- true
				return
			default:
			}
		}
	}()

	// Ping-pong n times
	ping, pong := make(chan int64), make(chan int64)
	go func() {
		for j := int64(0); j < ops; j++ {
			pong <- <-ping + 1
		}
		close(stop)
		done <- true
	}()
	go func() {
		for i := int64(0); i < ops; i++ {
			ping <- <-pong + 1
		}
		done <- true
	}()

	start := time.Now()
	ping <- 0 // Start ping-pong
	<-stop
	elapsed := time.Since(start)
	result := <-ping // Let last ponger exit
	<-done           // Make sure goroutines exit
	<-done
	<-done

	ns := float64(elapsed.Nanoseconds())
	fmt.Printf("pingpong_hog system=go procs=%d n=%d ms=%.1f ns_per_op=%.1f\n",
		procs, ops, ns/1e6, ns/float64(ops))
	stopTrace()
	if result != 2*ops {
		fmt.Fprintf(os.Stderr, "pingpong_hog: counter is %d, want %d\n", result, 2*ops)
		os.Exit(1)
	}
}
