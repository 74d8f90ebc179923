package fakeproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pfKthread is PF_KTHREAD, the flag of a kernel thread in stat's field 9.
const pfKthread = 0x00200000

// TCP states as /proc/net/tcp prints them (include/net/tcp_states.h).
const (
	Established uint8 = 0x01
	Listen      uint8 = 0x0A
)

// Fields a Proc can hide (Proc.Hidden), named as observe names them in
// Process.Unreadable.
const (
	HideStat    = "stat"    // the whole process: its stat cannot be read
	HideUID     = "uid"     // status
	HideArgv    = "argv"    // cmdline
	HideEnviron = "environ" // environ
	HideExe     = "exe"     // the exe link
	HideCwd     = "cwd"     // the cwd link
	HideCgroup  = "cgroup"  // cgroup
	HideFds     = "fd"      // the fd directory: which sockets it holds
)

// Tree is a whole fake /proc.
type Tree struct {
	// Boot is the boot time; /proc/stat's btime is its whole seconds.
	Boot    time.Time
	Procs   []Proc
	Sockets []Socket
}

// Proc is one process.
type Proc struct {
	Pid, PPid, Pgid, Sid int
	// State is the one-letter state ("S" when empty; "Z" for a zombie).
	State string
	// Comm is the command name (argv[0]'s base, cut to 15 bytes, when empty).
	Comm string
	// StartTicks is the start time in clock ticks since boot.
	StartTicks uint64
	// Kernel marks a kernel thread (PF_KTHREAD).
	Kernel bool
	UID    int
	Argv   []string
	// Environ is the environment, "NAME=value" each.
	Environ []string
	// Cgroup is the unified cgroup path ("0::<Cgroup>").
	Cgroup string
	// Exe and Cwd are the targets of the exe and cwd links; "" leaves the
	// link out (unreadable).
	Exe, Cwd string
	// Fds are the targets of fd/0, fd/1, …: "socket:[<inode>]" (see
	// SocketLink) for a socket.
	Fds []string
	// Hidden are the fields that cannot be read (the Hide constants).
	Hidden []string
}

// Socket is one row of /proc/net/tcp (an IPv4 local address) or tcp6.
type Socket struct {
	Local, Remote netip.AddrPort
	State         uint8
	UID           int
	Inode         uint64
}

// SocketLink is the fd link target of socket inode.
func SocketLink(inode uint64) string { return "socket:[" + strconv.FormatUint(inode, 10) + "]" }

// Write writes t under root, which must not exist yet or be empty.
func Write(root string, t Tree) error {
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		return err
	}
	stat := fmt.Sprintf("cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 1\nbtime %d\nprocesses %d\n", t.Boot.Unix(), len(t.Procs))
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte(stat), 0o644); err != nil {
		return err
	}
	for _, p := range t.Procs {
		if err := writeProc(root, p); err != nil {
			return fmt.Errorf("fake process %d: %w", p.Pid, err)
		}
	}
	return writeTCP(root, t.Sockets)
}

// writeProc writes <root>/<pid>/: a hidden file is a directory of that
// name, which opens but cannot be read, and a hidden fd directory a plain
// file, which cannot be listed; both fail for root too.
func writeProc(root string, p Proc) error {
	dir := filepath.Join(root, strconv.Itoa(p.Pid))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	hidden := map[string]bool{}
	for _, h := range p.Hidden {
		hidden[h] = true
	}
	files := []struct {
		name, hide, data string
	}{
		{"stat", HideStat, statLine(p)},
		{"status", HideUID, fmt.Sprintf("Name:\t%s\nState:\t%s\nPid:\t%d\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\n", comm(p), state(p), p.Pid, p.PPid, p.UID, p.UID, p.UID, p.UID)},
		{"cmdline", HideArgv, nulJoined(p.Argv)},
		{"environ", HideEnviron, nulJoined(p.Environ)},
		{"cgroup", HideCgroup, "0::" + p.Cgroup + "\n"},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		var err error
		if hidden[f.hide] {
			err = os.Mkdir(path, 0o755)
		} else {
			err = os.WriteFile(path, []byte(f.data), 0o644)
		}
		if err != nil {
			return err
		}
	}
	exe, cwd := p.Exe, p.Cwd
	if hidden[HideExe] {
		exe = ""
	}
	if hidden[HideCwd] {
		cwd = ""
	}
	if hidden[HideFds] {
		return errors.Join(Links(root, p.Pid, nil, exe, cwd), HideFdDir(root, p.Pid))
	}
	return Links(root, p.Pid, p.Fds, exe, cwd)
}

// Links makes <root>/<pid>/fd/N link to fds[N], and the exe and cwd links
// ("" for none). The process's directory must exist.
func Links(root string, pid int, fds []string, exe, cwd string) error {
	dir := filepath.Join(root, strconv.Itoa(pid))
	if fds != nil {
		if err := os.Mkdir(filepath.Join(dir, "fd"), 0o755); err != nil {
			return err
		}
	}
	for i, target := range fds {
		if err := os.Symlink(target, filepath.Join(dir, "fd", strconv.Itoa(i))); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"exe": exe, "cwd": cwd} {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// HideFdDir makes <root>/<pid>/fd a plain file: listing it fails as it
// would with EACCES for a non-root reader of another user's process (root
// cannot be denied by permissions, and tests may run as root).
func HideFdDir(root string, pid int) error {
	return os.WriteFile(filepath.Join(root, strconv.Itoa(pid), "fd"), []byte("not a directory\n"), 0o600)
}

func state(p Proc) string {
	if p.State == "" {
		return "S"
	}
	return p.State
}

func comm(p Proc) string {
	if p.Comm != "" {
		return p.Comm
	}
	c := ""
	if len(p.Argv) > 0 {
		c = filepath.Base(p.Argv[0])
	}
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// statLine is /proc/PID/stat: pid (comm) state ppid pgrp session tty_nr
// tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
// priority nice num_threads itrealvalue starttime vsize rss.
func statLine(p Proc) string {
	flags := 0x400000
	if p.Kernel {
		flags |= pfKthread
	}
	return fmt.Sprintf("%d (%s) %s %d %d %d 0 -1 %d 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n",
		p.Pid, comm(p), state(p), p.PPid, p.Pgid, p.Sid, flags, p.StartTicks)
}

func nulJoined(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return strings.Join(s, "\x00") + "\x00"
}

// writeTCP writes net/tcp (IPv4 sockets) and net/tcp6 (the others).
func writeTCP(root string, socks []Socket) error {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	v4, v6 := []string{header}, []string{header}
	for _, s := range socks {
		v6sock := !s.Local.Addr().Is4()
		row := func(n int) string {
			return fmt.Sprintf("%4d: %s %s %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n",
				n, hexAddrPort(s.Local, v6sock), hexAddrPort(s.Remote, v6sock), s.State, s.UID, s.Inode)
		}
		if !v6sock {
			v4 = append(v4, row(len(v4)-1))
		} else {
			v6 = append(v6, row(len(v6)-1))
		}
	}
	if err := os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(strings.Join(v4, "")), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "net", "tcp6"), []byte(strings.Join(v6, "")), 0o644)
}

// hexAddrPort is the kernel's "0100007F:0793": the address as native-endian
// 32-bit words printed %08X (one for IPv4, four for IPv6), the port in hex.
// An invalid address (a listener's remote) is all zeros; an IPv4 address
// in the tcp6 table is written v4-mapped.
func hexAddrPort(ap netip.AddrPort, v6 bool) string {
	a := ap.Addr()
	raw := make([]byte, 4)
	switch {
	case v6 && a.IsValid():
		b := a.As16()
		raw = b[:]
	case v6:
		raw = make([]byte, 16)
	case a.IsValid():
		b := a.Unmap().As4()
		raw = b[:]
	}
	var sb strings.Builder
	for i := 0; i < len(raw); i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(raw[i:i+4]))
	}
	fmt.Fprintf(&sb, ":%04X", ap.Port())
	return sb.String()
}
