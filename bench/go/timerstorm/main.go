// Command timerstorm is the Go side of the timer_storm benchmark (bench/timer_storm.cpp is
// mnsched's): n goroutines each sleep a pseudo-random 0..10 ms and measure how late they
// wake (actual wake time minus deadline). The durations come from splitmix64 with a fixed
// seed, the same generator mnsched's side uses, so both sleep the same set of durations.
// With a small n (bench/run-compare.sh runs -n 1000) it measures wake-up latency at light
// load.
//
// Usage: timerstorm [-n N] [-seed S]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/timer_storm prints too (lateness percentiles by nearest rank):
//
//	timer_storm system=go procs=<GOMAXPROCS> n=<N> ms=<total wall ms> p50_us=<x.x> p99_us=<x.x> max_us=<x.x>
//
// Exit status: 0 on success, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

const maxSleepNs = 10 * 1000 * 1000 // 10 ms

// splitmix64 advances *state and returns the next value (Steele, Lea, Flood 2014).
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// percentile returns the nearest-rank p-th percentile of the sorted v.
func percentile(v []int64, p int) int64 {
	idx := (p*len(v)+99)/100 - 1
	if idx < 0 {
		idx = 0
	}
	return v[idx]
}

func main() {
	n := flag.Int("n", 100000, "sleeping goroutines")
	seed := flag.Uint64("seed", 1, "seed of the sleep durations")
	benchflag.Parse("timer_storm")
	benchflag.Range("timer_storm", "n", int64(*n), 1, 100000000)
	tasks := *n
	stopTrace := benchflag.Trace("timer_storm")
	procs := runtime.GOMAXPROCS(0)

	sleeps := make([]time.Duration, tasks)
	state := *seed
	for i := range sleeps {
		sleeps[i] = time.Duration(splitmix64(&state) % (maxSleepNs + 1))
	}
	late := make([]int64, tasks)

	var wg sync.WaitGroup
	wg.Add(tasks)
	start := time.Now()
	for i := 0; i < tasks; i++ {
		i := i
		go func() {
			defer wg.Done()
			d := sleeps[i]
			deadline := time.Now().Add(d)
			time.Sleep(d)
			late[i] = int64(time.Since(deadline))
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	fmt.Printf("timer_storm system=go procs=%d n=%d ms=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
		procs, tasks, float64(elapsed.Nanoseconds())/1e6,
		float64(percentile(late, 50))/1e3, float64(percentile(late, 99))/1e3,
		float64(late[tasks-1])/1e3)
	stopTrace()
}
