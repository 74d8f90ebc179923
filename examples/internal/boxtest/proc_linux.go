package boxtest

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stat is the part of /proc/<pid>/stat the tests look at.
type Stat struct {
	Pid, PPid, Pgid, Sid int
	// State is the one-letter kernel state; "Z" is a zombie (dead).
	State string
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	// comm may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("read /proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 4 {
		return Stat{}, fmt.Errorf("read /proc/%d/stat: short", pid)
	}
	st := Stat{Pid: pid, State: f[0]}
	st.PPid, _ = strconv.Atoi(f[1])
	st.Pgid, _ = strconv.Atoi(f[2])
	st.Sid, _ = strconv.Atoi(f[3])
	return st, nil
}

// Alive reports whether pid exists and is not a zombie. (Orphans on this
// machine are reparented to a PID 1 that never reaps, so dead processes can
// linger as zombies.)
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != "Z" && st.State != "X"
}

// WaitDead polls until none of pids is Alive or ctx ends.
func WaitDead(ctx context.Context, pids ...int) error {
	for {
		var live []int
		for _, p := range pids {
			if Alive(p) {
				live = append(live, p)
			}
		}
		if len(live) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pids %v still alive: %w", live, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Children lists pid's direct children from /proc/<pid>/task/*/children, sorted.
func Children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
	}
	sort.Ints(kids)
	return kids
}

// Descendants lists every descendant of pid (children, their children, …), sorted.
func Descendants(pid int) []int {
	var out []int
	queue := Children(pid)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, Children(p)...)
	}
	sort.Ints(out)
	return out
}

// Listener is one listening TCP socket from /proc/net/tcp{,6}.
type Listener struct {
	Addr  string // "127.0.0.1:1939", "0.0.0.0:1939", "[::]:1939"
	Inode uint64
}

// Listeners returns the listening TCP sockets (v4 and v6) on port.
func Listeners(port int) ([]Listener, error) {
	var out []Listener
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A = TCP_LISTEN
				continue
			}
			hexIP, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			ip, err := decodeIP(hexIP)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", file, err)
			}
			ino, _ := strconv.ParseUint(fields[9], 10, 64)
			out = append(out, Listener{Addr: net.JoinHostPort(ip.String(), strconv.Itoa(port)), Inode: ino})
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out, nil
}

// decodeIP decodes /proc/net/tcp's address: 32-bit words in host (little-
// endian on every platform this runs on) byte order.
func decodeIP(h string) (net.IP, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}

// PortHolders returns the pids that hold a listening socket on port open,
// sorted, by matching socket:[inode] links under /proc/*/fd.
func PortHolders(port int) ([]int, error) {
	ls, err := Listeners(port)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	want := map[string]bool{}
	for _, l := range ls {
		want[fmt.Sprintf("socket:[%d]", l.Inode)] = true
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err == nil && want[link] {
				pids = append(pids, pid)
				break
			}
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// Cmdline is /proc/<pid>/cmdline split on NUL.
func Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// Environ is /proc/<pid>/environ as a "KEY=value" list.
func Environ(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// Cwd is the target of /proc/<pid>/cwd.
func Cwd(pid int) (string, error) { return os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)) }
