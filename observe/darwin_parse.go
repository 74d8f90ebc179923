package observe

// Pure parsers for what the darwin transport (procfs_darwin.go) reads: one
// `lsof -F` listing of every listening TCP socket, the kern.proc process
// table and KERN_PROCARGS2. Nothing here touches the system, so it builds
// and is tested on every platform.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
)

// lsofSocket is one open listening socket of one process, as lsof lists it.
type lsofSocket struct {
	Pid   int
	UID   int
	FD    string
	Local netip.AddrPort
	// ID identifies the socket across the processes sharing it: its kernel
	// address when lsof printed one, else a hash of pid and fd.
	ID uint64
}

// parseLsof parses `lsof -F pcuftdDn` output: a "p" line starts a process
// (followed by its c and u lines), an "f" line starts one of its files
// (followed by t, d or D, and n). A name that is not a local TCP address
// ("host:port") is skipped; so are files of unknown type. A malformed
// line is an error naming it.
func parseLsof(data []byte) ([]lsofSocket, error) {
	var out []lsofSocket
	pid, uid := 0, -1
	var cur *lsofSocket
	var typ, dev string
	flush := func() {
		if cur == nil {
			return
		}
		if cur.Local.IsValid() && (typ == "" || typ == "IPv4" || typ == "IPv6") {
			if id, ok := kernelAddress(dev); ok {
				cur.ID = id
			} else {
				h := fnv.New64a()
				fmt.Fprintf(h, "%d/%s", cur.Pid, cur.FD)
				cur.ID = h.Sum64()
			}
			out = append(out, *cur)
		}
		cur, typ, dev = nil, "", ""
	}
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		field, val := line[0], string(line[1:])
		switch field {
		case 'p':
			flush()
			v, err := strconv.Atoi(val)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("parse lsof line %d %q: bad pid", n+1, line)
			}
			pid, uid = v, -1
		case 'u':
			v, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("parse lsof line %d %q: bad uid", n+1, line)
			}
			uid = v
			if cur != nil {
				cur.UID = v
			}
		case 'f':
			flush()
			if pid == 0 {
				return nil, fmt.Errorf("parse lsof line %d %q: file before any process", n+1, line)
			}
			cur = &lsofSocket{Pid: pid, UID: uid, FD: val}
		case 't':
			typ = val
		case 'd', 'D':
			if dev == "" {
				dev = val
			}
		case 'n':
			if cur != nil {
				cur.Local, _ = parseLsofName(val, typ)
			}
		default:
			// c (command) and fields another lsof version adds: unused.
		}
	}
	flush()
	return out, nil
}

// kernelAddress reads a socket's kernel address as lsof prints it on macOS
// ("0x3c0a3e4c8a6cf9b1").
func kernelAddress(s string) (uint64, bool) {
	hex, ok := strings.CutPrefix(s, "0x")
	if !ok || hex == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	return v, err == nil && v != 0
}

// parseLsofName reads a listening socket's name: "127.0.0.1:1939",
// "*:1939" (any address of the socket's family), "[::1]:1939". A
// connection ("a->b") is not a listener.
func parseLsofName(name, typ string) (netip.AddrPort, error) {
	if strings.Contains(name, "->") {
		return netip.AddrPort{}, errors.New("a connection, not a listener")
	}
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("name %q has no port", name)
	}
	host, portText := name[:i], name[i+1:]
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("name %q: bad port", name)
	}
	var addr netip.Addr
	switch {
	case host == "*" && typ == "IPv6":
		addr = netip.IPv6Unspecified()
	case host == "*":
		addr = netip.IPv4Unspecified()
	default:
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if i := strings.IndexByte(host, '%'); i >= 0 {
			host = host[:i] // a zone: fe80::1%lo0
		}
		if addr, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, fmt.Errorf("name %q: %w", name, err)
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// lsofListeners turns the parsed listing into the sockets on the wanted ports
// and the pids holding each one (by socket ID).
func lsofListeners(socks []lsofSocket, ports map[uint16]bool) ([]tcpSocket, map[uint64][]int) {
	var out []tcpSocket
	owners := map[uint64][]int{}
	for _, s := range socks {
		if !ports[s.Local.Port()] {
			continue
		}
		if _, seen := owners[s.ID]; !seen {
			out = append(out, tcpSocket{Local: s.Local, State: tcpListen, UID: s.UID, Inode: s.ID})
		}
		dup := false
		for _, p := range owners[s.ID] {
			dup = dup || p == s.Pid
		}
		if !dup {
			owners[s.ID] = append(owners[s.ID], s.Pid)
		}
	}
	return out, owners
}

// darwinProc is one row of the kern.proc table (struct kinfo_proc), reduced
// to what a Stat needs.
type darwinProc struct {
	Pid, PPid, Pgid, UID int
	// Start is p_starttime.
	Start time.Time
	// Stat is p_stat: 1 SIDL, 2 SRUN, 3 SSLEEP, 4 SSTOP, 5 SZOMB.
	Stat int8
	Comm string
}

// darwinStat converts a kern.proc row. StartTicks on darwin is the start
// time in microseconds since the epoch, the unit actuate's darwin Identity
// uses too: it identifies the process as Linux's ticks since boot do.
func darwinStat(p darwinProc, sid int) procfs.Stat {
	state := map[int8]string{1: "I", 2: "R", 3: "S", 4: "T", 5: "Z"}[p.Stat]
	if state == "" {
		state = "?"
	}
	return procfs.Stat{Pid: p.Pid, Comm: p.Comm, State: state, PPid: p.PPid, Pgid: p.Pgid, Sid: sid,
		StartTicks: uint64(p.Start.UnixMicro())}
}

// parseProcArgs2 reads the KERN_PROCARGS2 buffer of a process: the argument
// count (int32, host order), the executable's path, NUL padding, then argc
// NUL-terminated arguments (the environment follows and is not read).
func parseProcArgs2(b []byte) (exe string, argv []string, err error) {
	exe, argv, _, err = splitProcArgs2(b)
	return exe, argv, err
}

// procArgs2Env returns the environment block (NUL-separated KEY=value)
// that follows the arguments in a KERN_PROCARGS2 buffer.
func procArgs2Env(b []byte) ([]byte, error) {
	_, _, env, err := splitProcArgs2(b)
	return env, err
}

func splitProcArgs2(b []byte) (exe string, argv []string, env []byte, err error) {
	if len(b) < 4 {
		return "", nil, nil, errors.New("procargs2: too short")
	}
	argc := int(int32(binary.NativeEndian.Uint32(b)))
	if argc < 0 || argc > 1<<16 {
		return "", nil, nil, fmt.Errorf("procargs2: argc %d", argc)
	}
	rest := b[4:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", nil, nil, errors.New("procargs2: no executable path")
	}
	exe, rest = string(rest[:i]), rest[i:]
	for len(rest) > 0 && rest[0] == 0 {
		rest = rest[1:]
	}
	argv = make([]string, 0, argc)
	for len(argv) < argc {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			if len(rest) > 0 {
				argv = append(argv, string(rest))
			}
			break
		}
		argv = append(argv, string(rest[:i]))
		rest = rest[i+1:]
	}
	if len(argv) < argc {
		return exe, argv, nil, fmt.Errorf("procargs2: %d of %d arguments", len(argv), argc)
	}
	return exe, argv, rest, nil
}
