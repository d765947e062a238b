// Command blocking is the Go side of the blocking benchmark (bench/blocking.cpp is
// mnsched's): the cost of entering and leaving a blocking call (entersyscall /
// exitsyscall), measured in one goroutine, n iterations of each loop. Three figures, each
// in ns per operation:
//
//	raw_ns       syscall.RawSyscall(SYS_GETPPID): the system call alone, no entersyscall
//	syscall_ns   syscall.Syscall(SYS_GETPPID): the same call between entersyscall and
//	             exitsyscall
//	overhead_ns  syscall_ns - raw_ns, both measured in this process. Go has no way to
//	             enter a syscall without making one, so this difference stands for
//	             mnsched's mn::blocking with an empty body.
//
// getppid, not getpid, as on mnsched's side (some glibc versions cache getpid there).
// Every loop is timed after a short warm-up; every getppid result is checked.
//
// Usage: blocking [-n N]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/blocking prints too:
//
//	blocking system=go procs=<GOMAXPROCS> n=<N> ms=<wall ms of the timed loops> raw_ns=<x.xx> syscall_ns=<x.xx> overhead_ns=<x.xx>
//
// Exit status: 0 on success, 1 if a getppid result is wrong, 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/benchflag"

	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// rawLoop calls getppid k times with syscall.RawSyscall and returns how many results
// were not want. The loops are written out, not passed as closures, so that neither
// pays an indirect call per iteration (mnsched's side inlines its loop bodies).
func rawLoop(k int64, want uintptr) (wrong int64) {
	for i := int64(0); i < k; i++ {
		if r, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0); r != want {
			wrong++
		}
	}
	return wrong
}

// syscallLoop is rawLoop with syscall.Syscall (entersyscall / exitsyscall around it).
func syscallLoop(k int64, want uintptr) (wrong int64) {
	for i := int64(0); i < k; i++ {
		if r, _, _ := syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0); r != want {
			wrong++
		}
	}
	return wrong
}

// nsPerOp runs loop(k) after loop(min(k, 100000)) as an untimed warm-up and returns the
// timed run's ns per iteration; the wrong results of both runs are added to *wrong.
func nsPerOp(k int64, want uintptr, wrong *int64, loop func(int64, uintptr) int64) float64 {
	w := k
	if w > 100000 {
		w = 100000
	}
	*wrong += loop(w, want)
	start := time.Now()
	*wrong += loop(k, want)
	return float64(time.Since(start).Nanoseconds()) / float64(k)
}

func main() {
	iters := benchflag.ParseFlags(benchflag.Spec{
		Prog:   "blocking",
		N:      10000000,
		NUsage: "iterations of each loop",
		MaxN:   1000000000000,
	}).N
	stopTrace := benchflag.Trace("blocking")
	procs := runtime.GOMAXPROCS(0)

	want := uintptr(os.Getppid())
	var wrong int64
	rawNs := nsPerOp(iters, want, &wrong, rawLoop)
	syscallNs := nsPerOp(iters, want, &wrong, syscallLoop)
	overheadNs := syscallNs - rawNs

	ms := (rawNs + syscallNs) * float64(iters) / 1e6
	fmt.Printf("blocking system=go procs=%d n=%d ms=%.1f raw_ns=%.2f syscall_ns=%.2f overhead_ns=%.2f\n",
		procs, iters, ms, rawNs, syscallNs, overheadNs)
	stopTrace()
	if wrong != 0 {
		fmt.Fprintf(os.Stderr, "blocking: %d getppid results were not %d\n", wrong, want)
		os.Exit(1)
	}
}
