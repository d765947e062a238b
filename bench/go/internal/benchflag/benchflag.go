// Package benchflag holds the command-line handling shared by the Go halves of the
// benchmarks: flags are parsed with the flag package, and any bad input prints a message
// naming it, the usage, and exits with code 2 (as the C++ halves do). It also holds
// Trace, which records the run with Go's execution tracer when GO_BENCH_TRACE asks for it.
package benchflag

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
)

// Fail reports a usage error for program prog and exits with code 2.
func Fail(prog, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

// Parse parses the flags defined so far and rejects positional arguments.
func Parse(prog string) {
	flag.Parse()
	if flag.NArg() != 0 {
		Fail(prog, "unexpected argument %q", flag.Arg(0))
	}
}

// Range fails unless lo <= v <= hi, naming the flag.
func Range(prog, name string, v, lo, hi int64) {
	if v < lo || v > hi {
		Fail(prog, "-%s must be between %d and %d, got %d", name, lo, hi, v)
	}
}

// Spec says which of the common flags a program takes, with their defaults and limits, as
// bench/bench_flags.hpp's FlagSpec does for the C++ halves.
type Spec struct {
	Prog      string // the program's name, which starts every message ("<Prog>: ...")
	N         int64  // -n's default
	NUsage    string // -n's description in -h
	MaxN      int64  // -n's largest value (the smallest is 1)
	Rounds    int64  // -rounds' default, or 0 if the program takes no -rounds
	MaxRounds int64  // -rounds' largest value (the smallest is 1)
}

// Flags is what ParseFlags returns.
type Flags struct {
	N      int64
	Rounds int64 // 0 if the program takes no -rounds
}

// ParseFlags defines -n (and -rounds, described as "rounds", if spec.Rounds is not 0),
// parses the command line with Parse, and checks -n's range and then -rounds' with Range.
func ParseFlags(spec Spec) Flags {
	n := flag.Int64("n", spec.N, spec.NUsage)
	var rounds *int64
	if spec.Rounds != 0 {
		rounds = flag.Int64("rounds", spec.Rounds, "rounds")
	}
	Parse(spec.Prog)
	Range(spec.Prog, "n", *n, 1, spec.MaxN)
	f := Flags{N: *n}
	if rounds != nil {
		Range(spec.Prog, "rounds", *rounds, 1, spec.MaxRounds)
		f.Rounds = *rounds
	}
	return f
}

// TraceEnv names the environment variable that makes a program record its run with Go's
// execution tracer (runtime/trace) into the file it names (created or truncated; empty or
// unset: no trace). bench/run-trace-overhead.sh sets it to measure Go's tracer, the peer
// of mnsched's MN_TRACE.
const TraceEnv = "GO_BENCH_TRACE"

// Trace starts the trace TraceEnv asks for, if it asks for one, and returns the function
// that stops it and closes the file (a no-op without a trace). Call Trace right after the
// flags are parsed and stop right after the result line is printed, before any os.Exit. A
// file that cannot be created is a bad input: a message naming it and exit code 2; a trace
// that cannot be started or closed, exit code 1.
func Trace(prog string) (stop func()) {
	path := os.Getenv(TraceEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s: cannot create the trace file: %v\n", prog, TraceEnv, err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "%s: %s=%s: %v\n", prog, TraceEnv, path, err)
		os.Exit(1)
	}
	if err := trace.Start(f); err != nil {
		fail(err)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fail(err)
		}
	}
}
