package observe

// Pure parsers for the Linux /proc formats observe reads, and the pure
// selection of which processes a snapshot keeps. Nothing here touches the
// file system, so it builds and is tested on every platform.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/internal/procfs"
)

// parseStatusUID returns the effective uid from /proc/PID/status (the second
// number of the "Uid:" line: real, effective, saved, filesystem). The
// effective uid is the one ps(1) shows as the process's user.
func parseStatusUID(data []byte) (int, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("Uid:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 2 {
			return 0, fmt.Errorf("parse status Uid line %q: want 4 numbers", truncate(line))
		}
		return strconv.Atoi(string(f[1]))
	}
	return 0, errors.New("parse status: no Uid line")
}

// parseCmdline splits /proc/PID/cmdline at NUL bytes. An empty file (kernel
// threads, zombies) is an empty argv, not an error.
func parseCmdline(data []byte) []string {
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return []string{}
	}
	return strings.Split(string(data), "\x00")
}

// parseBootTime returns the "btime" line of /proc/stat: the boot time in whole
// seconds since the epoch (the kernel truncates it).
func parseBootTime(data []byte) (time.Time, error) {
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse btime: %w", err)
		}
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, errors.New("parse /proc/stat: no btime line")
}

// startedAt converts a start time in clock ticks since boot to wall-clock
// time. btime is truncated to the second, so the result can be up to one
// second earlier than the real start, never later.
func startedAt(btime time.Time, ticks uint64, hz int64) time.Time {
	if btime.IsZero() || hz <= 0 {
		return time.Time{}
	}
	sec := int64(ticks) / hz
	rem := int64(ticks) % hz
	return btime.Add(time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(hz))
}

// socketInode returns the inode of an fd link target "socket:[12345]".
func socketInode(target []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(target, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	return n, err == nil
}

// TCP states as /proc/net/tcp prints them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

// tcpSocket is one row of /proc/net/tcp or /proc/net/tcp6.
type tcpSocket struct {
	Local  netip.AddrPort
	Remote netip.AddrPort
	State  uint8
	UID    int
	Inode  uint64
}

// parseTCPTable parses /proc/net/tcp or tcp6 and returns the rows keep
// accepts; keep sees the state and local port before the addresses are
// decoded, so a large table of unrelated connections costs little.
func parseTCPTable(data []byte, keep func(state uint8, localPort uint16) bool) ([]tcpSocket, error) {
	var out []tcpSocket
	first := true
	for line := range bytes.Lines(data) {
		if first { // the header: "  sl  local_address rem_address   st …"
			first = false
			continue
		}
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode …
		if len(f) < 10 {
			return nil, fmt.Errorf("parse tcp table row %q: %d fields, want at least 10", truncate(line), len(f))
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("parse tcp table state %q: %w", f[3], err)
		}
		_, portHex, ok := bytes.Cut(f[1], []byte(":"))
		if !ok {
			return nil, fmt.Errorf("parse tcp table address %q: no port", f[1])
		}
		port, err := strconv.ParseUint(string(portHex), 16, 16)
		if err != nil {
			return nil, fmt.Errorf("parse tcp table port %q: %w", portHex, err)
		}
		if keep != nil && !keep(uint8(st), uint16(port)) {
			continue
		}
		s := tcpSocket{State: uint8(st)}
		if s.Local, err = parseHexAddrPort(f[1]); err != nil {
			return nil, err
		}
		if s.Remote, err = parseHexAddrPort(f[2]); err != nil {
			return nil, err
		}
		if s.UID, err = strconv.Atoi(string(f[7])); err != nil {
			return nil, fmt.Errorf("parse tcp table uid %q: %w", f[7], err)
		}
		if s.Inode, err = strconv.ParseUint(string(f[9]), 10, 64); err != nil {
			return nil, fmt.Errorf("parse tcp table inode %q: %w", f[9], err)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseHexAddrPort decodes "0100007F:0793" (IPv4) or the 32-hex-digit IPv6
// form. The kernel prints the address as native-endian 32-bit words (one for
// IPv4, four for IPv6: %08X of each __be32), so on the little-endian machines
// we run on "0100007F" is 127.0.0.1; the port is a plain big number.
func parseHexAddrPort(s []byte) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := bytes.Cut(s, []byte(":"))
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("parse address %q: no port", s)
	}
	port, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("parse address %q port: %w", s, err)
	}
	var raw [16]byte
	switch len(hexAddr) {
	case 8, 32:
	default:
		return netip.AddrPort{}, fmt.Errorf("parse address %q: %d hex digits, want 8 or 32", s, len(hexAddr))
	}
	for i := 0; i < len(hexAddr); i += 8 {
		w, err := strconv.ParseUint(string(hexAddr[i:i+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("parse address %q: %w", s, err)
		}
		binary.NativeEndian.PutUint32(raw[i/2:], uint32(w))
	}
	var addr netip.Addr
	if len(hexAddr) == 8 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Netlink sock_diag (linux/inet_diag.h), the interface ss(8) uses. A dump
// restricted to LISTEN sockets walks only the kernel's listening hash; reading
// /proc/net/tcp walks the whole established hash on every read (262 144
// buckets on a 2 GB machine, about 7 ms), whatever is in it.
const (
	nlmsgHdrLen      = 16
	nlmsgError       = 2
	nlmsgDone        = 3
	nlmFRequest      = 0x1
	nlmFDump         = 0x300
	sockDiagByFamily = 20
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	afInet           = 2
	afInet6          = 10
	ipprotoTCP       = 6
	inetDiagNoCookie = 0xFFFFFFFF
)

// diagRequest encodes one SOCK_DIAG_BY_FAMILY request for TCP sockets of
// family in the given state bitmask (1<<state). With dump unset it asks for
// the one socket whose local and remote addresses are local and remote.
func diagRequest(family uint8, states uint32, dump bool, seq uint32, local, remote netip.AddrPort) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	flags := uint16(nlmFRequest)
	if dump {
		flags |= nlmFDump
	}
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0], r[1] = family, ipprotoTCP
	ne.PutUint32(r[4:], states)
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putDiagAddr(id[4:20], family, local.Addr())
	putDiagAddr(id[20:36], family, remote.Addr())
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return b
}

func putDiagAddr(dst []byte, family uint8, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	if family == afInet {
		a4 := a.Unmap().As4()
		copy(dst, a4[:])
		return
	}
	a16 := a.As16()
	copy(dst, a16[:])
}

// errDiagDone marks the end of a dump.
var errDiagDone = errors.New("end of dump")

// parseDiagMessages decodes the netlink messages of one receive. It returns
// errDiagDone after NLMSG_DONE, and the kernel's errno (as syscall-free
// diagErrno) for NLMSG_ERROR.
func parseDiagMessages(buf []byte) ([]tcpSocket, error) {
	var out []tcpSocket
	ne := binary.NativeEndian
	for len(buf) >= nlmsgHdrLen {
		n := int(ne.Uint32(buf[0:]))
		typ := ne.Uint16(buf[4:])
		if n < nlmsgHdrLen || n > len(buf) {
			return out, fmt.Errorf("sock_diag: bad message length %d of %d", n, len(buf))
		}
		body := buf[nlmsgHdrLen:n]
		switch typ {
		case nlmsgDone:
			return out, errDiagDone
		case nlmsgError:
			if len(body) < 4 {
				return out, errors.New("sock_diag: short error message")
			}
			if errno := -int32(ne.Uint32(body)); errno != 0 {
				return out, diagErrno(errno)
			}
		case sockDiagByFamily:
			s, err := parseDiagMsg(body)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		// Messages are aligned to 4 bytes.
		n = (n + 3) &^ 3
		if n > len(buf) {
			n = len(buf)
		}
		buf = buf[n:]
	}
	return out, nil
}

// diagErrno is an errno the kernel answered a sock_diag request with.
type diagErrno int32

func (e diagErrno) Error() string { return fmt.Sprintf("sock_diag: errno %d", int32(e)) }

// parseDiagMsg decodes one struct inet_diag_msg.
func parseDiagMsg(b []byte) (tcpSocket, error) {
	if len(b) < inetDiagMsgLen {
		return tcpSocket{}, fmt.Errorf("sock_diag: message of %d bytes, want %d", len(b), inetDiagMsgLen)
	}
	ne := binary.NativeEndian
	family, id := b[0], b[4:52]
	addr := func(raw []byte) netip.Addr {
		if family == afInet {
			return netip.AddrFrom4([4]byte(raw[:4]))
		}
		return netip.AddrFrom16([16]byte(raw[:16]))
	}
	return tcpSocket{
		State:  b[1],
		Local:  netip.AddrPortFrom(addr(id[4:20]), binary.BigEndian.Uint16(id[0:])),
		Remote: netip.AddrPortFrom(addr(id[20:36]), binary.BigEndian.Uint16(id[2:])),
		UID:    int(ne.Uint32(b[64:])),
		Inode:  uint64(ne.Uint32(b[68:])),
	}, nil
}

// pidParse is the outcome of reading a pidfile as the hub's readPid does.
type pidParse int

const (
	pidNone     pidParse = iota // readPid yields none: not a positive integer
	pidOK                       // a positive integer that fits a pid
	pidTooLarge                 // a positive integer no process can have
)

// maxPid bounds what can be a pid on any platform we run on (Linux caps
// pid_max at 2^22, macOS at 99999); larger numbers are positive integers to
// JavaScript but name no process.
const maxPid = math.MaxInt32

// parsePid reads pidfile (or hub.port) content exactly as the hub's readPid:
// String.prototype.trim, then parseInt(s, 10) — optional sign, then the
// leading decimal digits, so "123abc" is 123 and "0x10" is 0 — accepted only
// when the result is a positive integer.
func parsePid(data []byte) (int, pidParse) {
	s := strings.TrimFunc(string(data), isJSSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	digits := strings.TrimLeft(s[:end], "0")
	if end == 0 || neg || digits == "" {
		return 0, pidNone
	}
	if len(digits) > 10 {
		return 0, pidTooLarge
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > maxPid {
		return 0, pidTooLarge
	}
	return int(n), pidOK
}

// parsePort reads hub.port as the hub's readHubPort: trim, parseInt, accepted
// when 1..65535; 0 otherwise.
func parsePort(data []byte) int {
	n, r := parsePid(data)
	if r != pidOK || n > 65535 {
		return 0
	}
	return n
}

// isJSSpace reports whether r is removed by String.prototype.trim: the
// ECMAScript WhiteSpace and LineTerminator code points.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// processTree is the process table of one instant: every visible pid's stat.
type processTree map[int]procfs.Stat

// relevant returns, sorted, the pids a snapshot keeps: every holder and its
// ancestors up to pid 1; every seed (a pidfile's live process) with its whole
// process group and all descendants of both; and each extra pid (the unit's
// main pid, who answered /health) with its ancestors. Pids absent from the
// tree are kept too (the caller reports them as gone or unreadable).
func (t processTree) relevant(holders, seeds, extra []int) []int {
	keep := map[int]bool{}
	addAncestors := func(pid int) {
		for pid > 0 && !keep[pid] {
			keep[pid] = true
			st, ok := t[pid]
			if !ok {
				return
			}
			pid = st.PPid
		}
	}
	for _, p := range holders {
		addAncestors(p)
	}
	for _, p := range extra {
		addAncestors(p)
	}
	if len(seeds) > 0 {
		children := map[int][]int{}
		groups := map[int][]int{}
		for pid, st := range t {
			children[st.PPid] = append(children[st.PPid], pid)
			groups[st.Pgid] = append(groups[st.Pgid], pid)
		}
		var queue []int
		for _, s := range seeds {
			if s <= 0 {
				continue
			}
			queue = append(queue, s)
			// pgid 0 is the kernel's own threads: never a group worth taking.
			if st, ok := t[s]; ok && st.Pgid > 0 {
				queue = append(queue, groups[st.Pgid]...)
			}
		}
		seen := map[int]bool{}
		for len(queue) > 0 {
			p := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			if seen[p] {
				continue
			}
			seen[p] = true
			keep[p] = true
			queue = append(queue, children[p]...)
		}
	}
	out := make([]int, 0, len(keep))
	for p := range keep {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func truncate(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// ancestors returns pid's ancestors from its parent upwards, as far as the
// tree reaches (pid 1 included when seen; a parent outside our pid
// namespace reads as 0 and ends the chain).
func (t processTree) ancestors(pid int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	st, ok := t[pid]
	for ok && st.PPid > 0 && !seen[st.PPid] {
		seen[st.PPid] = true
		out = append(out, st.PPid)
		st, ok = t[st.PPid]
	}
	return out
}

// envValue returns the value of name in a NUL-separated environment block
// ("" when unset; the first occurrence wins, as getenv's).
func envValue(environ []byte, name string) string {
	for kv := range bytes.SplitSeq(environ, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte{'='}); ok && string(k) == name {
			return string(v)
		}
	}
	return ""
}
