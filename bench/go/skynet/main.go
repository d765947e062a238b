// Command skynet is the Go side of the skynet benchmark
// (https://github.com/atemerev/skynet): a 10-ary tree of goroutines whose
// leaves each send their ordinal over a channel, and whose inner nodes sum
// their children's values and pass the sum to their parent.
//
// With the default 1,000,000 leaves the tree holds 1,111,111 goroutines and
// the total is 499999500000.
//
// Usage: skynet [-leaves N] [-runs K]
//
// N must be a power of 10. GOMAXPROCS is taken from the environment as usual.
// One line per run, in the format that mnsched's bench/skynet prints too:
//
//	skynet system=go procs=<GOMAXPROCS> leaves=<N> sum=<sum> ms=<wall ms, 1 decimal>
//
// Exit status: 0 on success, 1 if a sum is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

const fanout = 10

// skynet sends to c the sum of the ordinals num .. num+size-1, computed by a
// subtree of goroutines with size leaves.
func skynet(c chan<- int64, num, size int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	child := size / fanout
	for i := int64(0); i < fanout; i++ {
		go skynet(rc, num+i*child, child)
	}
	var sum int64
	for i := 0; i < fanout; i++ {
		sum += <-rc
	}
	c <- sum
}

func isPowerOf10(n int64) bool {
	if n < 1 {
		return false
	}
	for n%10 == 0 {
		n /= 10
	}
	return n == 1
}

func main() {
	leaves := flag.Int64("leaves", 1000000, "number of leaves (a power of 10)")
	runs := flag.Int("runs", 1, "number of runs (each prints one line)")
	benchflag.Parse("skynet")
	// The sum N*(N-1)/2 must fit in an int64, which holds up to N = 10^9.
	if !isPowerOf10(*leaves) || *leaves > 1000000000 {
		benchflag.Fail("skynet", "-leaves must be a power of 10 between 1 and 1000000000, got %d", *leaves)
	}
	if *runs < 1 {
		benchflag.Fail("skynet", "-runs must be at least 1, got %d", *runs)
	}

	n := *leaves
	want := n * (n - 1) / 2
	stopTrace := benchflag.Trace("skynet")
	procs := runtime.GOMAXPROCS(0)
	ok := true
	for r := 0; r < *runs; r++ {
		c := make(chan int64)
		start := time.Now()
		go skynet(c, 0, n)
		sum := <-c
		elapsed := time.Since(start)
		fmt.Printf("skynet system=go procs=%d leaves=%d sum=%d ms=%.1f\n",
			procs, n, sum, float64(elapsed.Nanoseconds())/1e6)
		if sum != want {
			fmt.Fprintf(os.Stderr, "skynet: wrong sum %d, want %d\n", sum, want)
			ok = false
		}
	}
	stopTrace()
	if !ok {
		os.Exit(1)
	}
}
