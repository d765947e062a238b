// Command latencyservice is the Go side of the latency service (bench/latency_service.cpp
// is mnsched's): requests at a fixed rate (open loop), each `work-us` microseconds of CPU
// work split over `fanout` goroutines; latency runs from when a request was due.
//
// Usage: latencyservice [-rate R] [-seconds S] [-warmup S] [-work-us W] [-fanout F]
//
// One line, in the format mnsched's side prints too:
//
//	latency_service system=go procs=<GOMAXPROCS> rate=<r> work_us=<w> fanout=<f> n=<N> rps=<x> p50_us=<x> p99_us=<x> p999_us=<x> max_us=<x>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

func work(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func main() {
	rate := flag.Int64("rate", 20000, "requests per second")
	seconds := flag.Int64("seconds", 5, "measured seconds")
	warmup := flag.Int64("warmup", 1, "seconds not measured, first")
	workUs := flag.Int64("work-us", 20, "CPU work per request, microseconds")
	fanout := flag.Int64("fanout", 2, "goroutines per request")
	flag.Parse()
	if *rate < 1 || *rate > 1000000 || *seconds < 1 || *warmup < 0 || *workUs < 0 || *fanout < 1 || *fanout > 64 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "latencyservice: bad arguments")
		flag.Usage()
		os.Exit(2)
	}
	total := *rate * (*seconds + *warmup)
	period := time.Second / time.Duration(*rate)
	latency := make([]int64, total)
	var all sync.WaitGroup
	all.Add(int(total))
	start := time.Now().Add(time.Millisecond)
	for i := int64(0); i < total; i++ {
		due := start.Add(time.Duration(i) * period)
		if ahead := time.Until(due); ahead > 0 {
			time.Sleep(ahead)
		}
		go func(i int64, due time.Time) {
			var parts sync.WaitGroup
			parts.Add(int(*fanout))
			for k := int64(0); k < *fanout; k++ {
				go func() {
					work(time.Duration(*workUs) * time.Microsecond / time.Duration(*fanout))
					parts.Done()
				}()
			}
			parts.Wait()
			latency[i] = int64(time.Since(due))
			all.Done()
		}(i, due)
	}
	all.Wait()
	measured := latency[*rate**warmup:]
	sort.Slice(measured, func(a, b int) bool { return measured[a] < measured[b] })
	at := func(q float64) float64 { return float64(measured[int(q*float64(len(measured)-1))]) / 1e3 }
	fmt.Printf("latency_service system=go procs=%d rate=%d work_us=%d fanout=%d n=%d rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
		runtime.GOMAXPROCS(0), *rate, *workUs, *fanout, len(measured), float64(len(measured))/float64(*seconds),
		at(0.5), at(0.99), at(0.999), float64(measured[len(measured)-1])/1e3)
}
