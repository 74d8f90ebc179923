package observe

// The Linux transport: sockets and processes in one pass, with no child
// process (no lsof, no ss, no ps).
//
// Sockets come from netlink sock_diag (what ss uses) when the tree is the
// real /proc, and from /proc/net/tcp{,6} otherwise (fake trees in tests) or
// when sock_diag is unavailable. The files are correct but slow: the kernel
// walks its whole established-connection hash on every read of them (about
// 7 ms per file on a 2 GB machine with an empty table), while a sock_diag
// dump of LISTEN sockets walks only the listening hash, and the server side
// of our health connection is one exact lookup.
//
// github.com/prometheus/procfs is not used on this path, deliberately:
// BenchmarkFdWalk in bench_linux_test.go compares one walk through procfs
// (AllProcs, Proc.Stat, Proc.FileDescriptorTargets) with this one. procfs
// parses every stat with fmt.Fscan, resolves every fd path from the root,
// and reads the fds of kernel threads too, which made its walk several times
// slower (figures in bench/README.md); and its Stat gives no way to tell
// "gone" from "unreadable", which pidfile states need. The tests use procfs
// as an independent oracle instead.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parachute/reconcile/internal/procfs"
)

// procFS reads a /proc tree rooted at root (normally "/proc"; tests pass a
// fake tree).
type procFS struct {
	root string
	// netlink: ask the kernel's sock_diag for sockets (root is the real
	// /proc, so its net/ tables are this network namespace's).
	netlink bool
	buf     []byte
	link    []byte
	dirents []byte
}

var _ procReader = (*procFS)(nil)

func newProcReader(env Env) procReader {
	return newProcFS(env.ProcRoot)
}

// newProcFS returns a reader of the /proc tree at root. Its buffers start
// small (a stat line fits in 4 KiB; reads grow the buffer as they need):
// the wait for a hub's modules makes one for each poll's socket query.
func newProcFS(root string) *procFS {
	return &procFS{root: root, netlink: filepath.Clean(root) == "/proc",
		buf: make([]byte, 4<<10), link: make([]byte, 256)}
}

// read reads a small /proc file into the shared buffer, growing it for large
// files (a big cmdline). The result is valid until the next call.
func (p *procFS) read(path string) ([]byte, error) { return p.readIn(unix.AT_FDCWD, path, path) }

// readAt is read of name in the /proc directory open at dfd (dir, for
// messages).
func (p *procFS) readAt(dfd int, dir, name string) ([]byte, error) {
	return p.readIn(dfd, name, dir+"/"+name)
}

// readIn is read of name relative to dfd, path naming it in errors.
func (p *procFS) readIn(dfd int, name, path string) ([]byte, error) {
	fd, err := procfs.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return p.readFd(fd, path)
}

// maxProcFile bounds one /proc file: argv and the environment are a
// process's own to make large (their limit follows its stack rlimit), and a
// 10 MB environment must not cost the observation 10 MB.
const maxProcFile = 4 << 20

// readFd reads fd to its end into the shared buffer, growing it up to
// maxProcFile.
func (p *procFS) readFd(fd int, path string) ([]byte, error) {
	n := 0
	for {
		if n == len(p.buf) {
			if n >= maxProcFile {
				return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", maxProcFile)}
			}
			p.buf = append(p.buf, make([]byte, len(p.buf))...)
		}
		m, err := syscall.Read(fd, p.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return p.buf[:n], nil
		}
		n += m
	}
}

func (p *procFS) bootTime() (time.Time, error) {
	data, err := p.read(filepath.Join(p.root, "stat"))
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	return parseBootTime(data)
}

func (p *procFS) sockets(ports map[uint16]bool, client netip.AddrPort, serverPort uint16) ([]tcpSocket, *tcpSocket, []string) {
	if p.netlink {
		if ls, srv, err := diagSockets(ports, client, serverPort); err == nil {
			return ls, srv, nil
		}
		// sock_diag refused (no tcp_diag, a seccomp filter, …): the files
		// say the same, only slower.
	}
	return p.fileSockets(ports, client, serverPort)
}

// netTableBuffer is the read buffer for /proc/net/tcp{,6}.
const netTableBuffer = 64 << 10

// fileSockets reads /proc/net/tcp and tcp6.
func (p *procFS) fileSockets(ports map[uint16]bool, client netip.AddrPort, serverPort uint16) ([]tcpSocket, *tcpSocket, []string) {
	var listeners []tcpSocket
	var server *tcpSocket
	var problems []string
	keep := func(st uint8, port uint16) bool {
		return (st == tcpListen && ports[port]) || (st == tcpEstablished && client.IsValid() && port == serverPort)
	}
	if len(p.buf) < netTableBuffer {
		// A table is read in as few reads as the buffer allows: the kernel
		// prints it a page at a time, and each further read is another
		// chance for a socket that moved to be skipped.
		p.buf = make([]byte, netTableBuffer)
	}
	for _, name := range []string{"tcp", "tcp6"} {
		path := filepath.Join(p.root, "net", name)
		data, err := p.read(path)
		if err != nil {
			// No tcp6 table means IPv6 is off: nothing can listen on it.
			if name == "tcp6" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			problems = append(problems, fmt.Sprintf("listening sockets unknown: %v", err))
			continue
		}
		socks, err := parseTCPTable(data, keep)
		if err != nil {
			problems = append(problems, fmt.Sprintf("listening sockets unknown: %s: %v", path, err))
			continue
		}
		for _, s := range socks {
			switch {
			case s.State == tcpListen:
				listeners = append(listeners, s)
			case sameClient(s.Remote, client) && s.Inode != 0:
				server = &s
			}
		}
	}
	return listeners, server, problems
}

// diagListeners dumps the LISTEN sockets of both families through ask and
// keeps those on ports; nothing is asked when ports is empty.
func diagListeners(ask func([]byte, bool) ([]tcpSocket, error), seq *uint32, ports map[uint16]bool) ([]tcpSocket, error) {
	var listeners []tcpSocket
	for _, fam := range []uint8{afInet, afInet6} {
		if len(ports) == 0 {
			break // only the server side is asked for: no dump to throw away
		}
		*seq++
		socks, err := ask(diagRequest(fam, 1<<tcpListen, true, *seq, netip.AddrPort{}, netip.AddrPort{}), true)
		if err != nil {
			if fam == afInet6 && errors.Is(err, diagErrno(syscall.EAFNOSUPPORT)) {
				continue // IPv6 off
			}
			return nil, err
		}
		for _, s := range socks {
			if s.State == tcpListen && ports[s.Local.Port()] {
				listeners = append(listeners, s)
			}
		}
	}
	return listeners, nil
}

// diagBufSize is the receive buffer of a sock_diag answer: the kernel fills
// a dump's datagrams up to 32 KiB, and a shorter buffer would truncate one.
const diagBufSize = 32 << 10

// diagBufs keeps the receive buffers of sock_diag questions: a port wait
// asks once per poll. Pooled, a buffer lives on the heap; a 32 KiB array
// in diagSockets' own frame (where the compiler puts a local make of a
// constant size) would grow the stack of whatever goroutine observes to
// 64 KiB, copying every frame below it on the way, which cost a converged
// tick about 0.8 ms (bench/README.md, round 6).
var diagBufs = sync.Pool{New: func() any { return new([diagBufSize]byte) }}

// diagSockets asks sock_diag for the LISTEN sockets of both families, and
// for the server side of client's connection by exact lookup.
func diagSockets(ports map[uint16]bool, client netip.AddrPort, serverPort uint16) ([]tcpSocket, *tcpSocket, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return nil, nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer syscall.Close(fd)
	// A kernel that never answers must not hang the observation.
	tv := syscall.NsecToTimeval(int64(2 * time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return nil, nil, fmt.Errorf("sock_diag timeout: %w", err)
	}
	buf := diagBufs.Get().(*[diagBufSize]byte)[:]
	defer diagBufs.Put((*[diagBufSize]byte)(buf))
	seq := uint32(0)
	ask := func(req []byte, dump bool) ([]tcpSocket, error) {
		if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
			return nil, fmt.Errorf("sock_diag send: %w", err)
		}
		var out []tcpSocket
		for {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("sock_diag receive: %w", err)
			}
			socks, err := parseDiagMessages(buf[:n])
			out = append(out, socks...)
			switch {
			case err == errDiagDone:
				return out, nil
			case err != nil:
				return out, err
			case !dump:
				return out, nil
			}
		}
	}
	listeners, err := diagListeners(ask, &seq, ports)
	if err != nil {
		return nil, nil, err
	}
	var server *tcpSocket
	if client.IsValid() {
		// The server side's local address is the one we dialled (127.0.0.1),
		// its remote is our client address. A hub listening on [::] holds it
		// as an IPv6 socket with v4-mapped addresses; Linux 6.x finds that
		// one through the AF_INET lookup too (TestSocketsNetlinkMatchesFiles),
		// the AF_INET6 question is a cheap second try for kernels that do not.
		local := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), serverPort)
		for _, fam := range []uint8{afInet, afInet6} {
			l, r := local, client
			if fam == afInet6 {
				l = netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), l.Port())
				r = netip.AddrPortFrom(netip.AddrFrom16(client.Addr().As16()), r.Port())
			}
			seq++
			socks, err := ask(diagRequest(fam, ^uint32(0), false, seq, l, r), false)
			if err == nil && len(socks) == 1 && socks[0].Inode != 0 {
				server = &socks[0]
				break
			}
		}
	}
	return listeners, server, nil
}

// walk reads every process's stat and, when inodes is not empty, every fd
// link of every process but kernel threads, recording which pids hold those
// socket inodes. This one pass is what replaces one lsof per port.
//
// Everything is opened relative to a directory descriptor (openat,
// readlinkat on /proc/PID/fd), so the kernel resolves "/proc/PID" once per
// process, not once per fd.
//
// A large process table is split into contiguous runs walked side by side,
// one goroutine per CPU (at most maxWalkWorkers): the walk is syscalls on
// /proc, which the kernel serves for different processes in parallel, and
// on a box of thousands of processes it is most of an observation. The
// runs are merged in order, so the result is the one a single pass gives.
func (p *procFS) walk(inodes map[uint64]bool) (walkResult, error) {
	d, err := os.Open(p.root)
	if err != nil {
		return walkResult{}, fmt.Errorf("read process table: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return walkResult{}, fmt.Errorf("read process table %s: %w", p.root, err)
	}
	rootFd := int(d.Fd())
	workers := min(runtime.GOMAXPROCS(0), maxWalkWorkers, len(names)/minWalkRun)
	if workers <= 1 {
		return p.walkNames(rootFd, names, inodes), nil
	}
	parts := make([]walkResult, workers)
	var wg sync.WaitGroup
	for i := range workers {
		run := names[i*len(names)/workers : (i+1)*len(names)/workers]
		wp := p
		if i > 0 {
			wp = newProcFS(p.root)
		}
		wg.Go(func() { parts[i] = wp.walkNames(rootFd, run, inodes) })
	}
	wg.Wait()
	return mergeWalks(parts), nil
}

// maxWalkWorkers bounds the goroutines of one walk; minWalkRun is the
// fewest /proc entries worth a goroutine of their own.
const (
	maxWalkWorkers = 4
	minWalkRun     = 256
)

// walkNames is walk over the /proc entries names.
func (p *procFS) walkNames(rootFd int, names []string, inodes map[uint64]bool) walkResult {
	res := walkResult{tree: processTree{}, owners: map[uint64][]int{}, unreadableStat: map[int]error{}}
	for _, name := range names {
		if name == "" || name[0] < '1' || name[0] > '9' {
			continue // self, net, sys, …: not a process (and no error to build)
		}
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		data, err := procfs.RawReadStatAt(rootFd, name, p.buf)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
				res.unreadableStat[pid] = err // exists, but hidden from us (hidepid, …)
			}
			continue // exited since the directory was listed
		}
		st, err := procfs.ParseStat(data)
		if err != nil {
			res.unreadableStat[pid] = err
			continue
		}
		res.tree[pid] = st
		if len(inodes) > 0 && !st.KernelThread {
			if err := p.fds(rootFd, name, pid, inodes, res.owners); err != nil {
				res.unreadableFds = append(res.unreadableFds, pid)
			}
		}
	}
	return res
}

// mergeWalks joins the walks of consecutive runs of the process table, in
// order: each inode's holders are listed in the order one pass would.
func mergeWalks(parts []walkResult) walkResult {
	res := parts[0]
	for _, part := range parts[1:] {
		maps.Copy(res.tree, part.tree)
		maps.Copy(res.unreadableStat, part.unreadableStat)
		for ino, pids := range part.owners {
			res.owners[ino] = append(res.owners[ino], pids...)
		}
		res.unreadableFds = append(res.unreadableFds, part.unreadableFds...)
	}
	return res
}

// fds records which of inodes the process's fds point at: one getdents of
// /proc/PID/fd, then one readlinkat per fd (no stat, no open of the socket).
// Its calls are raw: procfs.RawOpenat says why, and why that is safe here.
func (p *procFS) fds(rootFd int, pid string, pidN int, inodes map[uint64]bool, owners map[uint64][]int) error {
	var pb [32]byte
	dirFd, err := procfs.RawOpenat(rootFd, append(append(pb[:0], pid...), "/fd\x00"...), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
	if err != nil {
		if err == syscall.ENOENT || err == syscall.ESRCH {
			return nil // exited
		}
		return err
	}
	defer procfs.RawClose(dirFd)
	var held []uint64
	for {
		if p.dirents == nil {
			p.dirents = make([]byte, 8<<10)
		}
		n, err := procfs.RawGetdents(dirFd, p.dirents)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for b := p.dirents[:n]; len(b) > 0; {
			name, rest := nextDirent(b)
			b = rest
			if len(name) == 0 || name[0] == '.' {
				continue
			}
			var nb [24]byte // an fd number, NUL-terminated for the raw call
			if len(name) >= len(nb) {
				continue // not an fd number
			}
			m, err := procfs.RawReadlinkat(dirFd, append(append(nb[:0], name...), 0), p.link)
			if err != nil || m == len(p.link) {
				continue // closed since listed, or a long path: not a socket
			}
			ino, ok := socketInode(p.link[:m])
			if !ok || !inodes[ino] {
				continue
			}
			// A process holding the same socket on several fds counts once.
			dup := false
			for _, h := range held {
				dup = dup || h == ino
			}
			if !dup {
				held = append(held, ino)
				owners[ino] = append(owners[ino], pidN)
			}
		}
	}
}

// nextDirent returns the name of the first linux_dirent64 in b and the rest.
func nextDirent(b []byte) (name, rest []byte) {
	// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
	if len(b) < 19 {
		return nil, nil
	}
	reclen := int(binary.NativeEndian.Uint16(b[16:18]))
	if reclen < 19 || reclen > len(b) {
		return nil, nil
	}
	name = b[19:reclen]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name, b[reclen:]
}

func (p *procFS) stat(pid int) (procfs.Stat, error) {
	data, err := p.read(filepath.Join(p.root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procfs.Stat{}, err
	}
	return procfs.ParseStat(data)
}

// openBound opens proc's /proc directory, dir, as a descriptor to read its
// files through. Such a descriptor stays bound to the process it was
// opened for: once that process is gone, reads through it fail rather than
// answer for a process that took its pid since. The stat read through it
// ties it to proc (same start time); without that, the directory opened
// might already be the new process's. ok is false when it is not proc's.
func (p *procFS) openBound(proc *Process) (dfd int, dir string, ok bool) {
	dir = filepath.Join(p.root, strconv.Itoa(proc.Pid))
	dfd, err := procfs.Openat(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return -1, dir, false
	}
	data, err := procfs.ReadStatAt(dfd, ".", p.buf)
	if err == nil {
		var st procfs.Stat
		if st, err = procfs.ParseStat(data); err == nil && st.StartTicks != proc.StartTicks {
			err = errors.New("another process")
		}
	}
	if err != nil {
		unix.Close(dfd)
		return -1, dir, false
	}
	return dfd, dir, true
}

// started implements procReader: ticks since boot.
func (p *procFS) started(btime time.Time, ticks uint64, hz int64) time.Time {
	return startedAt(btime, ticks, hz)
}

// details fills what the walk did not read: uid, argv, exe, cwd and cgroup.
// Each field that cannot be read is named in Unreadable; none is fatal.
// With withHome it also reads PARACHUTE_HOME from /proc/PID/environ (the
// environment the process was started with), as procReader says. All of
// it is read through one directory descriptor bound to proc (openBound).
func (p *procFS) details(proc *Process, withHome bool) (home string, homeRead bool) {
	dfd, dir, ok := p.openBound(proc)
	if !ok {
		proc.Unreadable = append(proc.Unreadable, "uid", "argv", "exe", "cwd", "cgroup")
		return "", false
	}
	defer unix.Close(dfd)
	if withHome {
		if data, err := p.readAt(dfd, dir, "environ"); err == nil {
			home, homeRead = envValue(data, "PARACHUTE_HOME"), true
		}
	}
	if data, err := p.readAt(dfd, dir, "status"); err != nil {
		proc.Unreadable = append(proc.Unreadable, "uid")
	} else if uid, err := parseStatusUID(data); err != nil {
		proc.Unreadable = append(proc.Unreadable, "uid")
	} else {
		proc.UID = uid
	}
	if data, err := p.readAt(dfd, dir, "cmdline"); err != nil {
		proc.Unreadable = append(proc.Unreadable, "argv")
	} else {
		proc.Argv = parseCmdline(data)
	}
	if exe, err := p.readlinkAt(dfd, "exe"); err != nil {
		proc.Unreadable = append(proc.Unreadable, "exe")
	} else {
		proc.Exe = exe
	}
	if cwd, err := p.readlinkAt(dfd, "cwd"); err != nil {
		proc.Unreadable = append(proc.Unreadable, "cwd")
	} else {
		proc.Cwd = cwd
	}
	if data, err := p.readAt(dfd, dir, "cgroup"); err != nil {
		proc.Unreadable = append(proc.Unreadable, "cgroup")
	} else {
		proc.Cgroup = procfs.ParseCgroup(data)
	}
	return home, homeRead
}

// readlinkAt reads the link name in the /proc directory open at dfd,
// growing p.link up to maxProcLink for a long target.
func (p *procFS) readlinkAt(dfd int, name string) (string, error) {
	for {
		n, err := unix.Readlinkat(dfd, name, p.link)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n < len(p.link) {
			return string(p.link[:n]), nil
		}
		if len(p.link) >= maxProcLink {
			return "", fmt.Errorf("%s: link target longer than %d bytes", name, maxProcLink)
		}
		p.link = make([]byte, 2*len(p.link))
	}
}

// maxProcLink bounds an exe or cwd link's target: PATH_MAX, with room for
// the " (deleted)" the kernel appends.
const maxProcLink = 8 << 10

// ReadProcess reads one process as a snapshot records it, from the /proc tree
// at procRoot ("/proc"). The actuator uses it to check a pid's StartTicks
// again just before signalling. A pid with no /proc entry is an error
// wrapping fs.ErrNotExist.
func ReadProcess(procRoot string, pid int) (Process, error) {
	p := newProcFS(procRoot)
	st, err := p.stat(pid)
	if err != nil {
		return Process{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	proc := fromStat(st)
	if bt, err := p.bootTime(); err == nil {
		proc.Started = startedAt(bt, st.StartTicks, defaultClockTicks)
	}
	p.details(&proc, false)
	return proc, nil
}

// listeningPorts says which of ports have a listening TCP socket (either
// family), from one look at the socket tables; nil when they cannot be
// read, and the caller must ask each port itself.
func listeningPorts(env Env, ports []int) map[int]bool {
	listeners, err := listenersOn(newProcFS(env.ProcRoot), ports)
	if err != nil {
		return nil
	}
	out := make(map[int]bool, len(listeners))
	for _, l := range listeners {
		out[int(l.Local.Port())] = true
	}
	return out
}
