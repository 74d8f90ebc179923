package sdbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// A D-Bus connection starts with a line-based authentication. godbus walks
// it one question at a time: it asks for the mechanisms, offers EXTERNAL,
// answers the server's empty challenge, negotiates file-descriptor passing
// and only then begins — four round trips to the manager before the first
// call, about as long as everything else a converged run asks. sd-bus
// (systemctl) sends its whole side at once: "AUTH EXTERNAL <uid>" and
// "BEGIN" in one write, then reads the one "OK". The protocol allows it
// (the server reads the lines in order), and both dbus-daemon and
// systemd's own sockets accept it.
//
// dialFast does that, then hands godbus the authenticated socket behind
// replayAuth, which answers godbus's own dialogue locally from what the
// server said, so godbus's connection (its reader, calls and signals) is
// used as it is. File descriptors are never passed: the transport is
// godbus's generic one, which does not offer them.

// handshakeTimeout bounds the authentication (less when ctx ends sooner).
const handshakeTimeout = 5 * time.Second

// dialFast connects to the socket file at path and authenticates as euid in
// one round trip.
func dialFast(ctx context.Context, path string, euid int) (*godbus.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(nc, 16<<10)
	guid, err := handshake(ctx, nc, r, euid)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	ra := &replayAuth{Conn: nc, r: r, guid: guid}
	conn, err := godbus.NewConn(ra, godbus.WithContext(ctx))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(euid))}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return conn, nil
}

// handshake writes the client's whole side of EXTERNAL authentication and
// returns the server's guid from its OK, read through r (which then holds
// whatever the server sent after it, for godbus to read).
func handshake(ctx context.Context, nc net.Conn, r *bufio.Reader, euid int) (string, error) {
	dl := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	nc.SetDeadline(dl)
	defer nc.SetDeadline(time.Time{})
	// A cancelled ctx ends the wait at once (the deadline alone would not).
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	uid := []byte(strconv.Itoa(euid))
	hexUID := make([]byte, hex.EncodedLen(len(uid)))
	hex.Encode(hexUID, uid)
	if _, err := nc.Write([]byte("\x00AUTH EXTERNAL " + string(hexUID) + "\r\nBEGIN\r\n")); err != nil {
		return "", err
	}
	line, err := r.ReadSlice('\n') // at most the buffer: a line that long is no OK
	if err != nil {
		return "", err
	}
	reply := strings.TrimRight(string(line), "\r\n")
	guid, ok := strings.CutPrefix(reply, "OK ")
	if !ok || guid == "" {
		return "", fmt.Errorf("the server answered %q to AUTH EXTERNAL", cutReply(reply))
	}
	return guid, nil
}

func cutReply(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// replayAuth is the authenticated socket as godbus sees it. Until godbus
// writes BEGIN, its authentication lines are answered here, never sent;
// after it, reads and writes go to the socket (reads through a buffer:
// godbus reads a message in several small pieces).
type replayAuth struct {
	net.Conn
	r    *bufio.Reader
	guid string

	mu      sync.Mutex
	begun   bool
	pending []byte // the local answer godbus has yet to read
}

var errReplay = errors.New("dbus: unexpected authentication line")

func (c *replayAuth) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.begun {
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	defer c.mu.Unlock()
	switch {
	case bytes.Equal(p, []byte{0}):
	case bytes.Equal(p, []byte("AUTH\r\n")):
		c.pending = append(c.pending, "REJECTED EXTERNAL\r\n"...)
	case bytes.HasPrefix(p, []byte("AUTH EXTERNAL")):
		c.pending = append(c.pending, "OK "+c.guid+"\r\n"...)
	case bytes.Equal(p, []byte("DATA\r\n")):
		c.pending = append(c.pending, "OK "+c.guid+"\r\n"...)
	case bytes.Equal(p, []byte("BEGIN\r\n")):
		c.begun = true
	default:
		return 0, fmt.Errorf("%w: %q", errReplay, p)
	}
	return len(p), nil
}

func (c *replayAuth) Read(p []byte) (int, error) {
	c.mu.Lock()
	if !c.begun {
		defer c.mu.Unlock()
		if len(c.pending) == 0 {
			return 0, fmt.Errorf("%w: godbus reads with nothing to answer", errReplay)
		}
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	c.mu.Unlock()
	return c.r.Read(p)
}
