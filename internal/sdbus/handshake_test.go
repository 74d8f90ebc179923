package sdbus

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The handshake sends the client's whole side at once, sd-bus style, and
// a server that refuses it is an error naming the answer, with nothing
// left open.
func TestHandshakeInOneWrite(t *testing.T) {
	for _, tc := range []struct {
		answer, err string
	}{
		{answer: "REJECTED EXTERNAL\r\n", err: `the server answered "REJECTED EXTERNAL" to AUTH EXTERNAL`},
		{answer: "OK \r\n", err: `the server answered "OK " to AUTH EXTERNAL`},
		{answer: "", err: "EOF"},
	} {
		sock := filepath.Join(t.TempDir(), "bus")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- ""
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			nul, _ := r.ReadByte()
			l1, _ := r.ReadString('\n')
			// The second line is already there: nothing waited for an answer.
			l2, _ := r.ReadString('\n')
			got <- string(rune(nul)) + l1 + l2
			c.Write([]byte(tc.answer))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = dialWire(ctx, Endpoint{Address: "unix:path=" + sock, Socket: sock, Private: true}, 1000)
		cancel()
		ln.Close()
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("answer %q: error %v, want one containing %q", tc.answer, err, tc.err)
		}
		if want := "\x00AUTH EXTERNAL 31303030\r\nBEGIN\r\n"; <-got != want {
			t.Errorf("the client's side is not one write of %q", want)
		}
	}
}
