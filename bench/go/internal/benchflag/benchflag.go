// Package benchflag holds the command-line handling shared by the Go halves of the
// benchmarks: flags are parsed with the flag package, and any bad input prints a message
// naming it, the usage, and exits with code 2 (as the C++ halves do).
package benchflag

import (
	"flag"
	"fmt"
	"os"
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
