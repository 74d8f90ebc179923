package observe

// The darwin transport: listeners from one lsof listing for every declared
// port (one fork per observation, never one per port), the process table
// from one sysctl (kern.proc.all), and each process's argv and executable
// from sysctl KERN_PROCARGS2: no fork per pid. The parsing is in
// darwin_parse.go and tested on every platform.
//
// What it cannot do, and says so: a process's cwd is not read (it needs
// libproc's proc_pidinfo, which Go reaches only through cgo; attribution
// falls back to argv and the executable), and a non-root lsof lists only the
// invoking user's own processes. A declared port lsof shows nothing on is
// therefore tried with a TCP connect to 127.0.0.1 when not root: one that
// answers is held by a process we cannot see, which is reported as held,
// owner unknown, never as free.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lsofPath is where macOS ships lsof.
const lsofPath = "/usr/sbin/lsof"

// lsofArgs lists every listening TCP socket, v4 and v6, of every process
// lsof may inspect, in one fork: -n and -P keep addresses and ports numeric
// (no DNS, no /etc/services), -w drops warnings, -F asks for fields: pid,
// command, uid, fd, type, device (the socket's kernel address on macOS)
// and name.
var lsofArgs = []string{"-nP", "-w", "-iTCP", "-sTCP:LISTEN", "-F", "pcuftdDn"}

type darwinProcs struct {
	env Env
	// owners are the holders of each socket of the last sockets call, by
	// socket ID; walk hands them on.
	owners map[uint64][]int
	// uids are the effective uids of the last walk.
	uids map[int]int
}

var _ procReader = (*darwinProcs)(nil)

func newProcReader(env Env) procReader {
	return &darwinProcs{env: env, owners: map[uint64][]int{}, uids: map[int]int{}}
}

func (d *darwinProcs) bootTime() (time.Time, error) {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	return time.Unix(tv.Sec, int64(tv.Usec)*1000), nil
}

// sockets runs lsof once. The server side of the health connection is not
// looked for (lsof would have to list every connection): Observe then
// takes the hub port's single listener owner as who answered.
func (d *darwinProcs) sockets(ports map[uint16]bool, _ netip.AddrPort, _ uint16) ([]tcpSocket, *tcpSocket, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lsofPath, lsofArgs...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	// lsof exits 1 when nothing matched: no listener at all.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && stdout.Len() == 0) {
		return nil, nil, []string{fmt.Sprintf("listening sockets unknown: %s: %v %s", lsofPath, err, strings.TrimSpace(stderr.String()))}
	}
	socks, perr := parseLsof(stdout.Bytes())
	if perr != nil {
		return nil, nil, []string{fmt.Sprintf("listening sockets unknown: %v", perr)}
	}
	listeners, owners := lsofListeners(socks, ports)
	d.owners = owners
	if os.Geteuid() != 0 {
		listeners = append(listeners, d.invisible(ports, listeners)...)
	}
	return listeners, nil, nil
}

// invisible finds declared ports that accept a connection on 127.0.0.1
// although lsof showed no listener: another user's process holds them.
func (d *darwinProcs) invisible(ports map[uint16]bool, seen []tcpSocket) []tcpSocket {
	listed := map[uint16]bool{}
	for _, s := range seen {
		listed[s.Local.Port()] = true
	}
	dial := d.env.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	var out []tcpSocket
	for port := range ports {
		if listed[port] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
		c, err := dial(ctx, "tcp4", addr.String())
		cancel()
		if err != nil {
			continue
		}
		c.Close()
		// No owner, no uid: fillListeners reports it held, owner unknown.
		out = append(out, tcpSocket{Local: addr, State: tcpListen, UID: -1, Inode: uint64(port)})
	}
	return out
}

// walk reads the whole process table in one sysctl and hands on the socket
// holders lsof found.
func (d *darwinProcs) walk(inodes map[uint64]bool) (walkResult, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return walkResult{}, fmt.Errorf("read process table: %w", err)
	}
	res := walkResult{tree: processTree{}, owners: map[uint64][]int{}, unreadableStat: map[int]error{}}
	d.uids = map[int]int{}
	for i := range kps {
		dp := fromKinfo(&kps[i])
		if dp.Pid <= 0 {
			continue // the kernel (pid 0)
		}
		sid, err := unix.Getsid(dp.Pid)
		if err != nil {
			if errors.Is(err, syscall.ESRCH) {
				continue // exited since the table was read
			}
			sid = 0
		}
		res.tree[dp.Pid] = darwinStat(dp, sid)
		d.uids[dp.Pid] = dp.UID
	}
	for ino := range inodes {
		if pids, ok := d.owners[ino]; ok {
			res.owners[ino] = append([]int(nil), pids...)
		}
	}
	return res, nil
}

func fromKinfo(kp *unix.KinfoProc) darwinProc {
	tv := kp.Proc.P_starttime
	comm := kp.Proc.P_comm[:]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	return darwinProc{
		Pid: int(kp.Proc.P_pid), PPid: int(kp.Eproc.Ppid), Pgid: int(kp.Eproc.Pgid), UID: int(kp.Eproc.Ucred.Uid),
		Start: time.Unix(int64(tv.Sec), int64(tv.Usec)*1000), Stat: kp.Proc.P_stat, Comm: string(comm),
	}
}

// started implements procReader: darwinStat's StartTicks are microseconds
// since the epoch.
func (d *darwinProcs) started(_ time.Time, ticks uint64, _ int64) time.Time {
	return time.UnixMicro(int64(ticks))
}

// details fills uid, argv and exe (KERN_PROCARGS2, which the kernel refuses
// for another user's process unless we are root) and the start time as
// wall-clock time; cwd and cgroup are not read on darwin. With withHome it
// also returns PARACHUTE_HOME, as envHome reads it.
func (d *darwinProcs) details(proc *Process, withHome bool) (home string, homeRead bool) {
	if withHome {
		home, homeRead = d.envHome(proc)
	}
	d.argvExe(proc)
	return home, homeRead
}

// argvExe is details without the environment.
func (d *darwinProcs) argvExe(proc *Process) {
	proc.Started = time.UnixMicro(int64(proc.StartTicks))
	if uid, ok := d.uids[proc.Pid]; ok {
		proc.UID = uid
	} else if kp, err := unix.SysctlKinfoProc("kern.proc.pid", proc.Pid); err == nil && int(kp.Proc.P_pid) == proc.Pid {
		proc.UID = int(kp.Eproc.Ucred.Uid)
	} else {
		proc.Unreadable = append(proc.Unreadable, "uid")
	}
	buf, err := unix.SysctlRaw("kern.procargs2", proc.Pid)
	// EIO is a failed copy out of a process that is mid-fork, mid-exec or
	// mid-exit; a moment later it reads.
	for try := 0; try < 3 && errors.Is(err, syscall.EIO); try++ {
		time.Sleep(time.Millisecond)
		buf, err = unix.SysctlRaw("kern.procargs2", proc.Pid)
	}
	if err != nil {
		proc.Unreadable = append(proc.Unreadable, "argv", "exe")
		return
	}
	exe, argv, err := parseProcArgs2(buf)
	if exe != "" {
		proc.Exe = exe
	} else {
		proc.Unreadable = append(proc.Unreadable, "exe")
	}
	if err != nil && len(argv) == 0 {
		proc.Unreadable = append(proc.Unreadable, "argv")
		return
	}
	proc.Argv = argv
}

// ReadProcess reads one process as a snapshot records it (procRoot is
// ignored: darwin has no /proc). A pid that does not exist is an error
// wrapping fs.ErrNotExist.
func ReadProcess(_ string, pid int) (Process, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || int(kp.Proc.P_pid) != pid {
		if err == nil || errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
			return Process{}, fmt.Errorf("read process %d: %w", pid, os.ErrNotExist)
		}
		return Process{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	dp := fromKinfo(kp)
	sid, _ := unix.Getsid(pid)
	proc := fromStat(darwinStat(dp, sid))
	d := &darwinProcs{uids: map[int]int{pid: dp.UID}}
	d.details(&proc, false)
	return proc, nil
}

// envHome is PARACHUTE_HOME from the environment KERN_PROCARGS2 returns
// after the arguments (root, or the same user).
func (d *darwinProcs) envHome(proc *Process) (string, bool) {
	buf, err := unix.SysctlRaw("kern.procargs2", proc.Pid)
	if err != nil {
		return "", false
	}
	env, err := procArgs2Env(buf)
	if err != nil {
		return "", false
	}
	return envValue(env, "PARACHUTE_HOME"), true
}

// listeningPorts is nil on darwin: the socket table is one lsof, dearer
// than asking a few modules directly.
func listeningPorts(Env, []int) map[int]bool { return nil }
