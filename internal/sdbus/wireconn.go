package sdbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// wireConn is the connection the reads go over. A flight of calls is
// written in one write; whichever caller is waiting reads the socket for
// all of them, so there is no reader goroutine and no hand-off per
// answer. Messages that answer nobody waiting (signals: the manager sends
// every private connection its signals unasked; late answers to a caller
// that gave up) are read and dropped. It is safe for concurrent use.
type wireConn struct {
	nc net.Conn
	r  *bufio.Reader

	wmu    sync.Mutex // one flight written at a time; guards serial
	serial uint32

	rmu sync.Mutex // held by the caller reading the socket

	mu sync.Mutex
	// pending holds the serials whose callers still wait, each with its
	// answer once someone has read it (nil until then).
	pending map[uint32]*message
	err     error       // set once: the connection is closed or broken
	stop    func() bool // ends the watch on the dial's context
}

// dialWire connects to ep, authenticates as euid in one round trip
// (handshake) and, on a bus, says Hello. The connection is closed when
// ctx ends.
func dialWire(ctx context.Context, ep Endpoint, euid int) (*wireConn, error) {
	addr := ep.Socket
	if addr == "" {
		name, ok := strings.CutPrefix(ep.Address, "unix:abstract=")
		if !ok {
			return nil, fmt.Errorf("no socket in address %q", ep.Address)
		}
		raw, err := godbus.UnescapeBusAddressValue(name)
		if err != nil {
			return nil, err
		}
		addr = "@" + raw // Go's spelling of the abstract namespace
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(nc, 16<<10)
	if err := handshake(ctx, nc, r, euid); err != nil {
		nc.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	w := &wireConn{nc: nc, r: r, pending: map[uint32]*message{}}
	w.stop = context.AfterFunc(ctx, func() { w.fail(net.ErrClosed) })
	if !ep.Private {
		hello := call{dest: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", iface: "org.freedesktop.DBus", member: "Hello"}
		answers, err := w.roundTrip(ctx, []call{hello})
		if err == nil {
			_, err = answerValue(answers[0], "s") // our unique name; an error answer is a refusal
		}
		if err != nil {
			w.close()
			return nil, fmt.Errorf("hello: %w", err)
		}
	}
	return w, nil
}

// connected reports whether the connection still stands.
func (w *wireConn) connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err == nil
}

func (w *wireConn) close() {
	w.stop()
	w.fail(net.ErrClosed)
}

// fail closes the connection for good; err is what every caller waiting
// and every later call is told.
func (w *wireConn) fail(err error) {
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first {
		w.nc.Close()
	}
}

// roundTrip sends calls as one flight and returns their answers in order:
// method returns and errors alike (the caller reads each). An error is the
// connection's: broken, closed, or ctx ended while reading (which leaves a
// message half read, so that too closes the connection).
func (w *wireConn) roundTrip(ctx context.Context, calls []call) ([]*message, error) {
	serials, err := w.send(ctx, calls)
	if err != nil {
		return nil, err
	}
	defer w.forget(serials)
	out := make([]*message, len(serials))
	for {
		done, err := w.readFor(ctx, serials, out)
		if done || err != nil {
			return out, err
		}
	}
}

func (w *wireConn) send(ctx context.Context, calls []call) ([]uint32, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	var buf []byte
	serials := make([]uint32, len(calls))
	for i, c := range calls {
		w.serial++
		serials[i] = w.serial
		var err error
		if buf, err = appendCall(buf, w.serial, c); err != nil {
			return nil, err
		}
	}
	w.mu.Lock()
	err := w.err
	for _, s := range serials {
		w.pending[s] = nil
	}
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer deadline(ctx, w.nc.SetWriteDeadline)()
	if _, err := w.nc.Write(buf); err != nil {
		w.fail(err)
		return nil, err
	}
	return serials, nil
}

// readFor fills out with the answers to serials that have arrived, and
// reads one more message when some are still missing; done when none is.
func (w *wireConn) readFor(ctx context.Context, serials []uint32, out []*message) (done bool, err error) {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	w.mu.Lock()
	done = true
	for i, s := range serials {
		out[i] = w.pending[s]
		done = done && out[i] != nil
	}
	err = w.err
	w.mu.Unlock()
	if done || err != nil {
		return done, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	stop := deadline(ctx, w.nc.SetReadDeadline)
	m, err := readMessage(w.r)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("read cut short, connection closed: %w", ctx.Err())
		}
		w.fail(err)
		return false, err
	}
	if m.typ == msgMethodReturn || m.typ == msgError {
		w.mu.Lock()
		if _, ok := w.pending[m.replySerial]; ok {
			w.pending[m.replySerial] = m
		}
		w.mu.Unlock()
	}
	return false, nil
}

// forget drops serials: their caller no longer waits.
func (w *wireConn) forget(serials []uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range serials {
		delete(w.pending, s)
	}
}

// deadline bounds an I/O on the socket by ctx: its deadline, and at once
// when it is cancelled. The function returned lifts the bound.
func deadline(ctx context.Context, set func(time.Time) error) func() {
	dl, _ := ctx.Deadline()
	set(dl)
	stop := context.AfterFunc(ctx, func() { set(time.Unix(1, 0)) })
	return func() {
		stop()
		set(time.Time{})
	}
}

// replyError is an error answer: the error's name and its message.
func replyError(m *message) error {
	text := m.errorName
	if vs, err := m.values(); err == nil && len(vs) > 0 {
		if s, ok := vs[0].(string); ok && s != "" {
			text += ": " + s
		}
	}
	return errors.New(text)
}
