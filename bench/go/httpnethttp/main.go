// Command httpnethttp is Go's net/http answering "Hello, World!" (text/plain) to every
// request: the reference point beside bench/go/httphello (the same server written by hand
// over net.Conn) and examples/http_hello.cpp (mnsched's) in bench/run-net.sh. Unlike the
// other two it adds a Date header, and its accept loop is net/http's own (which backs off
// on errors as netserve.Serve does).
//
// Usage: httpnethttp [-addr HOST] [-port P] [-procs N]   (default port 8080)
//
// Prints "listening on <address>" once listening. Exit status: 1 if serving fails, 2 on
// bad arguments.
package main

import (
	"mnsched/bench/go/internal/netserve"

	"fmt"
	"io"
	"net/http"
	"os"
)

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello, World!")
}

func main() {
	const prog = "httpnethttp"
	ln := netserve.Listen(prog, netserve.ParseFlags(prog, 8080))
	srv := &http.Server{Handler: http.HandlerFunc(hello)}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}
