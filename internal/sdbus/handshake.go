package sdbus

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/spec"
)

// A D-Bus connection starts with a line-based authentication. godbus walks
// it one question at a time: it asks for the mechanisms, offers EXTERNAL,
// answers the server's empty challenge, negotiates file-descriptor passing
// and only then begins — four round trips to the manager before the first
// call, about as long as everything else a converged run asks. sd-bus
// (systemctl) sends its whole side at once: "AUTH EXTERNAL <uid>" and
// "BEGIN" in one write, then reads the one "OK". The protocol allows it
// (the server reads the lines in order), and both dbus-daemon and
// systemd's own sockets accept it. The reads' connection (dialWire) does
// that; go-systemd's, dialled only for a change, keeps godbus's dialogue.

// handshakeTimeout bounds the authentication (less when ctx ends sooner).
const handshakeTimeout = 5 * time.Second

// handshake writes the client's whole side of EXTERNAL authentication and
// reads the server's OK through r (which then holds whatever the server
// sent after it).
func handshake(ctx context.Context, nc net.Conn, r *bufio.Reader, euid int) error {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	defer deadline(ctx, nc.SetDeadline)()
	uid := []byte(strconv.Itoa(euid))
	hexUID := make([]byte, hex.EncodedLen(len(uid)))
	hex.Encode(hexUID, uid)
	if _, err := nc.Write([]byte("\x00AUTH EXTERNAL " + string(hexUID) + "\r\nBEGIN\r\n")); err != nil {
		return err
	}
	line, err := r.ReadSlice('\n') // at most the buffer: a line that long is no OK
	if err != nil {
		return err
	}
	reply := strings.TrimRight(string(line), "\r\n")
	if guid, ok := strings.CutPrefix(reply, "OK "); !ok || guid == "" {
		return fmt.Errorf("the server answered %q to AUTH EXTERNAL", spec.CutAtRune(reply, 80))
	}
	return nil
}
