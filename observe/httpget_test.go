package observe

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// answer serves one canned answer on loopback and returns the client's
// connection and, after the exchange, the request the server read.
func answer(t *testing.T, raw string, keepOpen bool) (net.Conn, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		got <- string(buf[:n])
		io.WriteString(c, raw)
		if keepOpen {
			io.Copy(io.Discard, c) // until the client closes
		}
	}()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(3 * time.Second)) // a test waiting this long has failed
	t.Cleanup(func() { conn.Close() })
	return conn, got
}

func TestHTTPGet(t *testing.T) {
	big := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name, raw string
		max       int64
		status    int
		body      string
		err       string
		keepOpen  bool
	}{
		{name: "content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"service\":\"hub\"}", max: 1 << 10, status: 200, body: `{"service":"hub"}`},
		{name: "chunked with extension", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n", max: 1 << 10, status: 200, body: `{"a":1}`},
		{name: "to the close", raw: "HTTP/1.0 503 Service Unavailable\r\n\r\ndown", max: 1 << 10, status: 503, body: "down"},
		{name: "body cut at max", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + big, max: 10, status: 200, body: big[:10]},
		{name: "chunked cut at max", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + big + "\r\n0\r\n\r\n", max: 10, status: 200, body: big[:10]},
		{name: "status only", raw: "HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\n", max: 0, status: 404},
		{name: "short body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", max: 1 << 10, status: 200, body: "short", err: "unexpected EOF"},
		{name: "not HTTP", raw: "SSH-2.0-OpenSSH_9.2\r\n", max: 1 << 10, err: "malformed HTTP status line"},
		{name: "bad code", raw: "HTTP/1.1 2000 OK\r\n\r\n", max: 1 << 10, err: "malformed HTTP status code"},
		{name: "headers cut", raw: "HTTP/1.1 200 OK\r\nContent-Len", max: 1 << 10, err: "read the headers"},
		{name: "huge chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nab", max: 1 << 10, status: 200, body: "ab", err: "read a chunk"},
		{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", max: 1 << 10, status: 200, err: "malformed chunk size"},
		{name: "other encoding", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", max: 1 << 10, status: 200, err: "unsupported Transfer-Encoding"},
		{name: "nothing", raw: "", max: 1 << 10, err: "unexpected EOF"},
		// No body, whatever the headers say, and no wait for one: the
		// server below keeps the connection open until the client closes.
		{name: "204 kept alive", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n", max: 1 << 10, status: 204, keepOpen: true},
		{name: "304 kept alive", raw: "HTTP/1.1 304 Not Modified\r\n\r\n", max: 1 << 10, status: 304, keepOpen: true},
		{name: "interim then final", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", max: 1 << 10, status: 200, body: "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, got := answer(t, tc.raw, tc.keepOpen)
			a, err := httpGet(conn, "127.0.0.1:1939", "/health", "Accept: application/json\r\n", tc.max)
			if a.Status != tc.status || !bytes.Equal(a.Body, []byte(tc.body)) && tc.body != "" {
				t.Errorf("status %d body %q, want %d %q", a.Status, a.Body, tc.status, tc.body)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
			req := <-got
			if want := "GET /health HTTP/1.1\r\nHost: 127.0.0.1:1939\r\nUser-Agent: parachute-reconcile\r\nAccept: application/json\r\n\r\n"; req != want {
				t.Errorf("request %q, want %q", req, want)
			}
		})
	}
}

// A health path that a request line cannot carry is refused before
// anything is sent: no header injection from services.json.
func TestHTTPGetRefusesUnsafePaths(t *testing.T) {
	for _, path := range []string{"/vault/my box/health", "/a\r\nX-Injected: 1", "/a\x7f", "relative", ""} {
		c1, c2 := net.Pipe()
		a, err := httpGet(c1, "127.0.0.1:1939", path, "", 0)
		c1.Close()
		c2.Close()
		if err == nil || a.Status != 0 || !strings.Contains(err.Error(), "health path") {
			t.Errorf("path %q: status %d, error %v; want refused", path, a.Status, err)
		}
	}
}
