package actuatetest

// The world's process table and sockets as a fake /proc (internal/fakeproc),
// and its hub's /health answer over an in-memory connection, for the real
// observer's Linux reader.

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/parachute/reconcile/internal/fakeproc"
)

// healthClientPort is the client port of the observer's health connection:
// the server side's row in /proc/net/tcp has it as its remote port.
const healthClientPort = 43117

// hubHealthBody is what the world's hub answers GET /health with.
const hubHealthBody = `{"status":"ok","service":"parachute-hub"}`

// listenerInode is the inode of the socket pid listens on port with.
func listenerInode(pid, port int) uint64 { return uint64(pid)*100 + uint64(port) }

// serverInode is the inode of the server side of the health connection
// held by pid.
func serverInode(pid int) uint64 { return 900_000_000 + uint64(pid) }

// procTree is the world's live processes and their sockets as /proc shows
// them: every held port's listener (on 127.0.0.1, held by the port's
// holder), and the established server side of the observer's health
// connection, held by the hub port's holder.
func (w *World) procTree() fakeproc.Tree {
	t := fakeproc.Tree{Boot: w.boot}
	at := map[int]int{} // pid → index in t.Procs
	for _, p := range w.sortedProcs() {
		if p.dead {
			continue
		}
		at[p.Pid] = len(t.Procs)
		t.Procs = append(t.Procs, w.fakeProc(p))
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, port := range w.heldPorts() {
		h := w.holder(port)
		ino := listenerInode(h.Pid, port)
		t.Sockets = append(t.Sockets, fakeproc.Socket{Local: netip.AddrPortFrom(loopback, uint16(port)), State: fakeproc.Listen, UID: h.UID, Inode: ino})
		t.Procs[at[h.Pid]].Fds = append(t.Procs[at[h.Pid]].Fds, fakeproc.SocketLink(ino))
		if port == w.HubPort {
			ino := serverInode(h.Pid)
			t.Sockets = append(t.Sockets, fakeproc.Socket{Local: netip.AddrPortFrom(loopback, uint16(port)),
				Remote: netip.AddrPortFrom(loopback, healthClientPort), State: fakeproc.Established, UID: h.UID, Inode: ino})
			t.Procs[at[h.Pid]].Fds = append(t.Procs[at[h.Pid]].Fds, fakeproc.SocketLink(ino))
		}
	}
	return t
}

// fakeProc is p as /proc shows it, with no fd directory until procTree
// gives it a socket (a process that holds none has nothing the walk looks
// for). An Unreadable process hides what /proc hides from a non-root reader
// of another user's process, and its argv.
func (w *World) fakeProc(p *Proc) fakeproc.Proc {
	fp := fakeproc.Proc{Pid: p.Pid, PPid: p.PPid, Pgid: p.Pgid, Sid: p.Sid, StartTicks: p.Start, UID: p.UID,
		Argv: p.Argv, Environ: p.Env, Cgroup: p.Cgroup, Exe: exeOf(p), Cwd: cmp.Or(p.Cwd, "/")}
	if p.Unreadable {
		fp.Hidden = []string{fakeproc.HideArgv, fakeproc.HideEnviron, fakeproc.HideExe, fakeproc.HideCwd, fakeproc.HideFds}
	}
	return fp
}

// exeOf is the program p runs: Exe, else argv[0] when it is a path, else
// /usr/bin/<argv[0]>. It never says more than argv[0] does.
func exeOf(p *Proc) string {
	switch {
	case p.Exe != "":
		return p.Exe
	case len(p.Argv) == 0 || p.Argv[0] == "":
		return ""
	case strings.HasPrefix(p.Argv[0], "/"):
		return p.Argv[0]
	}
	return "/usr/bin/" + filepath.Base(p.Argv[0])
}

// heldPorts are the ports some live process listens on, sorted.
func (w *World) heldPorts() []int {
	seen := map[int]bool{}
	var out []int
	for _, p := range w.procs {
		for _, port := range p.Ports {
			if !p.dead && !seen[port] {
				seen[port] = true
				out = append(out, port)
			}
		}
	}
	sort.Ints(out)
	return out
}

// dialHealth is observe.Env.Dial: a connection to 127.0.0.1:<port> that the
// port's holder serves in memory (the hub answers /health, anything else
// 404), or connection refused when nobody listens. Its client address is
// the one the hub port's established row in procTree names. served counts
// the connections still being served.
func (w *World) dialHealth(served *sync.WaitGroup) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
		}
		h := w.holder(int(ap.Port())) // Snapshot holds the lock
		if h == nil {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		status, body := http.StatusNotFound, "not found\n"
		if w.isHub(h) {
			status, body = http.StatusOK, hubHealthBody
		}
		client, server := net.Pipe()
		served.Add(1)
		go serveHealth(server, status, body, served)
		local := net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), healthClientPort))
		return tcpPipe{Conn: client, local: local, remote: net.TCPAddrFromAddrPort(ap)}, nil
	}
}

// serveHealth answers one request on conn, then holds it open until the
// client closes it (the observer closes it after its walk over /proc).
func serveHealth(conn net.Conn, status int, body string, served *sync.WaitGroup) {
	defer served.Done()
	defer conn.Close()
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	if req.URL.Path != "/health" {
		status, body = http.StatusNotFound, "not found\n"
	}
	fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, http.StatusText(status), len(body), body)
	_, _ = io.Copy(io.Discard, conn)
}

// tcpPipe is an in-memory connection with the addresses a loopback TCP
// connection would have.
type tcpPipe struct {
	net.Conn
	local, remote net.Addr
}

func (c tcpPipe) LocalAddr() net.Addr  { return c.local }
func (c tcpPipe) RemoteAddr() net.Addr { return c.remote }
