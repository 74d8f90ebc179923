package observe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
)

// The health checks speak just enough HTTP/1.1 to GET a path on loopback
// and read the answer: a request line and three headers out, a status
// line, headers and a body (Content-Length, chunked, or up to the close)
// back, every part bounded. net/http would do it too, but linking it (with
// crypto/tls, x509, http2's tables and gzip behind it) cost every run about
// a millisecond of package initialisation for two messages on a socket we
// open ourselves (bench/README.md, issue 11).

// maxHeaderBytes bounds the status line and headers of an answer.
const maxHeaderBytes = 64 << 10

// httpAnswer is what a GET got back.
type httpAnswer struct {
	Status int
	Body   []byte
}

// httpGet writes GET path to conn (Host: host, plus the header lines in
// extra, each ending in CRLF) and reads the answer. Status is 0 unless the
// status line and every header were read; an error with a status is one
// in the body. At most maxBody bytes of the body are read (0: none, and the body is left
// unread); a longer body is cut there without an error. conn stays open
// either way: the caller owns it. Deadlines are the caller's (set on
// conn).
func httpGet(conn net.Conn, host, path, extra string, maxBody int64) (httpAnswer, error) {
	var a httpAnswer
	if i := strings.IndexFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 || !strings.HasPrefix(path, "/") {
		// A request line cannot carry it (and a CR or LF would start
		// another header): the path comes from services.json.
		return a, fmt.Errorf("health path %q: want an absolute path without spaces or control characters", cutForMessage(path))
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: parachute-reconcile\r\n" + extra + "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return a, err
	}
	// Chunk framing can add a few bytes per byte of a body cut in tiny
	// chunks: the read bound leaves room for it.
	br := bufio.NewReader(io.LimitReader(conn, maxHeaderBytes+8*maxBody))
	tp := textproto.NewReader(br)
	status, hdr, err := readHead(tp)
	if err != nil {
		return a, err
	}
	a.Status = status
	// 204 and 304 never have a body, whatever the headers say; reading
	// "to the close" would wait out the deadline on a kept-alive
	// connection.
	if maxBody == 0 || status == 204 || status == 304 {
		return a, nil
	}
	a.Body, err = readBody(br, hdr, maxBody)
	return a, err
}

// maxInterim bounds the 1xx answers skipped before the final one.
const maxInterim = 8

// readHead reads the final status line and its headers, skipping interim
// (1xx) answers, which a GET does not ask for but a server may send.
func readHead(tp *textproto.Reader) (int, textproto.MIMEHeader, error) {
	for range maxInterim {
		line, err := tp.ReadLine()
		if err != nil {
			return 0, nil, fmt.Errorf("read the status line: %w", unexpectedEOF(err))
		}
		status, err := parseStatusLine(line)
		if err != nil {
			return 0, nil, err
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return 0, nil, fmt.Errorf("read the headers: %w", unexpectedEOF(err))
		}
		if status >= 200 {
			return status, hdr, nil
		}
	}
	return 0, nil, fmt.Errorf("more than %d interim (1xx) answers", maxInterim)
}

// parseStatusLine takes the code of "HTTP/1.x NNN reason".
func parseStatusLine(line string) (int, error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, fmt.Errorf("malformed HTTP status line %q", cutForMessage(line))
	}
	code, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return 0, fmt.Errorf("malformed HTTP status code %q", cutForMessage(code))
	}
	return n, nil
}

// readBody reads up to max bytes of the body the headers describe.
func readBody(br *bufio.Reader, hdr textproto.MIMEHeader, max int64) ([]byte, error) {
	if te := strings.ToLower(hdr.Get("Transfer-Encoding")); te != "" {
		if te != "chunked" {
			return nil, fmt.Errorf("unsupported Transfer-Encoding %q", cutForMessage(te))
		}
		return readChunked(br, max)
	}
	if cl := hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed Content-Length %q", cutForMessage(cl))
		}
		body := make([]byte, min(n, max))
		got, err := io.ReadFull(br, body)
		if err != nil {
			return body[:got], fmt.Errorf("read the body: %w", unexpectedEOF(err))
		}
		return body, nil
	}
	// Neither: the body runs to the close.
	return io.ReadAll(io.LimitReader(br, max))
}

// readChunked decodes a chunked body, keeping at most max bytes; it stops
// reading once max is reached.
func readChunked(br *bufio.Reader, max int64) ([]byte, error) {
	var body []byte
	tp := textproto.NewReader(br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return body, fmt.Errorf("read a chunk size: %w", unexpectedEOF(err))
		}
		size, _, _ := strings.Cut(line, ";") // chunk extensions are ignored
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return body, fmt.Errorf("malformed chunk size %q", cutForMessage(line))
		}
		if n == 0 {
			return body, nil // trailers, if any, are not read
		}
		keep := min(n, max-int64(len(body)))
		chunk := make([]byte, keep)
		got, err := io.ReadFull(br, chunk)
		body = append(body, chunk[:got]...)
		if err != nil {
			return body, fmt.Errorf("read a chunk: %w", unexpectedEOF(err))
		}
		if int64(len(body)) >= max {
			return body, nil // the rest is left unread
		}
		if _, err := tp.ReadLine(); err != nil { // the CRLF after the data
			return body, fmt.Errorf("read a chunk: %w", unexpectedEOF(err))
		}
	}
}

// unexpectedEOF says that the answer ended early.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// cutForMessage bounds a piece of an answer quoted in an error.
func cutForMessage(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
