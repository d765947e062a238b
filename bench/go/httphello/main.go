// Command httphello is the Go side of bench/run-net.sh's HTTP benchmark
// (examples/http_hello.cpp is mnsched's): an HTTP/1.1 keep-alive server written by hand
// over net.Conn, with the same parsing and the same bytes out as the mnsched server, so
// that the two runtimes are compared and not two HTTP libraries (bench/go/httpnethttp is
// net/http, for reference).
//
// Usage: httphello [-addr HOST] [-port P] [-procs N]   (default port 8080)
//
// Per connection, one goroutine reads. Every complete request head (up to its blank line)
// in what has arrived is answered, and the answers to one read's requests go out in one
// write: pipelined requests cost one write, and a head split across reads waits for its
// end.
//   - "Connection: close" (or an HTTP/1.0 request, which has no keep-alive here) gets its
//     answer, with "Connection: close", and the connection closes.
//   - A body announced by Content-Length is read and discarded; Transfer-Encoding is not
//     supported: 501 and close. A malformed request: 400 and close.
//   - A head over 64 KiB: 431 and close.
//
// Prints "listening on <address>" once listening. Exit status: 1 if the listener fails,
// 2 on bad arguments.
package main

import (
	"mnsched/bench/go/internal/netserve"

	"bytes"
	"net"
)

const (
	readSize = 16 << 10
	maxHead  = 64 << 10
)

var (
	respOK             = []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!")
	respOKClose        = []byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!")
	respBadRequest     = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	respNotImplemented = []byte("HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	respTooLarge       = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

type request struct {
	response []byte
	close    bool
	body     uint64 // Content-Length: bytes after the head to discard
}

// cut returns the part of s before the first sep and the rest after it (all of s and
// nothing when there is no sep).
func cut(s, sep []byte) (before, after []byte) {
	if i := bytes.Index(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):]
	}
	return s, nil
}

func trimSpace(s []byte) []byte { return bytes.Trim(s, " \t") }

// parse reads one head: the request line and the header lines, without the blank line
// that ends them.
func parse(head []byte) request {
	bad := request{respBadRequest, true, 0}
	// RFC 9112 2.2: empty lines before a request line are to be ignored.
	for bytes.HasPrefix(head, crlf) {
		head = head[2:]
	}
	if len(head) == 0 {
		return request{nil, false, 0}
	}
	line, head := cut(head, crlf)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return bad
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return bad
	}
	sp2 += sp1 + 1
	version := line[sp2+1:]
	if bytes.IndexByte(version, ' ') >= 0 {
		return bad
	}
	r := request{respOK, false, 0}
	switch string(version) { // no allocation: the compiler compares in place
	case "HTTP/1.0":
		r.close = true
	case "HTTP/1.1":
	default:
		return bad
	}

	chunked := false
	for len(head) > 0 {
		var h []byte
		h, head = cut(head, crlf)
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 {
			return bad
		}
		name, value := h[:colon], trimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			for len(value) > 0 {
				var opt []byte
				opt, value = cut(value, []byte(","))
				if bytes.EqualFold(trimSpace(opt), []byte("close")) {
					r.close = true
				}
			}
		case bytes.EqualFold(name, []byte("Content-Length")):
			if len(value) == 0 || len(value) > 18 {
				return bad
			}
			r.body = 0
			for _, c := range value {
				if c < '0' || c > '9' {
					return bad
				}
				r.body = r.body*10 + uint64(c-'0')
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = true
		}
	}
	if chunked {
		return request{respNotImplemented, true, 0}
	}
	if r.close {
		r.response = respOKClose
	}
	return r
}

func min64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

func serveConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, readSize)
	var pending []byte // the start of a request head that has not ended yet
	var out []byte     // the answers to one read's requests
	var skip uint64    // body bytes still to come and be discarded
	closeAfter := false
	for !closeAfter {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		data := buf[:n]
		drop := min64(skip, uint64(len(data)))
		data = data[drop:]
		skip -= drop
		// The blank line may straddle the old bytes and the new: search from 3 bytes back.
		from := 0
		carried := len(pending) > 0
		if carried {
			if len(pending) >= 3 {
				from = len(pending) - 3
			}
			pending = append(pending, data...)
			data = pending
		}
		pos := 0
		for !closeAfter {
			start := pos
			if from > start {
				start = from
			}
			i := bytes.Index(data[start:], crlfcrlf)
			if i < 0 {
				break
			}
			end := start + i
			r := parse(data[pos:end])
			pos = end + 4
			out = append(out, r.response...)
			closeAfter = r.close
			drop = min64(r.body, uint64(len(data)-pos))
			pos += int(drop)
			skip = r.body - drop
		}
		if !closeAfter {
			// copy, not a new slice: the buffer is reused, as the C++ server's string is.
			pending = append(pending[:0], data[pos:]...)
			if len(pending) > maxHead {
				out = append(out, respTooLarge...)
				closeAfter = true
			}
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

func main() {
	netserve.Run("httphello", 8080, serveConn)
}
