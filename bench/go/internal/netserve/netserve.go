// Package netserve holds what the Go servers of bench/run-net.sh share (httphello,
// httpnethttp, echoserver), as examples/net_serve.hpp does for their mnsched peers: the
// flags, listening with its "listening on" line, and an accept loop that backs off on
// errors as net/http's Server does.
//
//	<program> [-addr HOST] [-port P] [-procs N]
//
// -procs N sets GOMAXPROCS (0 leaves it as the environment and the CPUs make it).
package netserve

import (
	"mnsched/bench/go/internal/benchflag"

	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ParseFlags parses -addr, -port (default defaultPort) and -procs, sets GOMAXPROCS when
// -procs is not 0, and returns the address to listen on. Bad input exits with code 2.
func ParseFlags(prog string, defaultPort int) string {
	host := flag.String("addr", "", "interface to listen on (default: all)")
	port := flag.Int("port", defaultPort, "TCP port, 0 for any free one")
	procs := flag.Int("procs", 0, "GOMAXPROCS, 0 for the default (GOMAXPROCS or the CPU count)")
	benchflag.Parse(prog)
	benchflag.Range(prog, "port", int64(*port), 0, 65535)
	benchflag.Range(prog, "procs", int64(*procs), 0, 1024)
	h := *host
	if h == ":" { // ":" and "" both mean every interface, as in ":8080"
		h = ""
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.ContainsAny(h, " /") {
		benchflag.Fail(prog, "invalid value %q for flag -addr: want a host name or IP address", *host)
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	return net.JoinHostPort(h, strconv.Itoa(*port))
}

// Listen listens on addr and prints "listening on <address>" on stdout (unbuffered in
// Go), or prints why not and exits: 2 for a malformed address, 1 otherwise.
func Listen(prog, addr string) net.Listener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		var ae *net.AddrError
		if errors.As(err, &ae) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return ln
}

// Serve accepts connections until ln is closed, each handled by handle in a goroutine.
// An accept error is retried after 5 ms, doubling to 1 s (net/http's Server does the same
// with its temporary errors; EMFILE is the usual one), and printed once per run of
// failures. Errors of a broken listener end it.
func Serve(prog string, ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	failures := 0
	var episodeStart time.Time
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.EINVAL) ||
				errors.Is(err, syscall.ENOTSOCK) || errors.Is(err, syscall.EOPNOTSUPP) {
				return err
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
				episodeStart = time.Now()
				fmt.Fprintf(os.Stderr, "%s: accept: %v; retrying every 5 ms to 1 s until it succeeds\n", prog, err)
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			failures++
			time.Sleep(delay)
			continue
		}
		if delay != 0 {
			fmt.Fprintf(os.Stderr, "%s: accept: succeeded again after %d failure(s) in %d ms\n",
				prog, failures, time.Since(episodeStart).Milliseconds())
			delay = 0
			failures = 0
		}
		go handle(c)
	}
}

// Run is main for a server: flags, listen, serve; exit 1 if serving ends in an error.
func Run(prog string, defaultPort int, handle func(net.Conn)) {
	ln := Listen(prog, ParseFlags(prog, defaultPort))
	if err := Serve(prog, ln, handle); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}
