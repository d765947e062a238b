// Command echoserver is the Go side of bench/run-net.sh's echo benchmark
// (examples/echo_server.cpp is mnsched's): a TCP echo server, one goroutine per
// connection that writes back what it reads until the peer closes or an error.
//
// Usage: echoserver [-addr HOST] [-port P] [-procs N]   (default port 9000)
//
// Prints "listening on <address>" once listening. Exit status: 1 if the listener fails,
// 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/netserve"

	"net"
)

// The same size as the mnsched server's buffer.
const bufSize = 16 << 10

// Errors end the connection quietly, as in the mnsched server.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	netserve.Run("echoserver", 9000, echo)
}
