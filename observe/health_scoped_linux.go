package observe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxCgroupMembers bounds how many pids answeredInCgroup reads: a hub unit
// holds the hub and its modules, a few hundred at most.
const maxCgroupMembers = 8192

// answeredInCgroup returns the one process of cgroup (and the groups below
// it) that holds the server side of hc's connection to port, or 0 when none
// or several unrelated ones do, or when the group cannot be read. Only the
// real /proc is looked at: a fake tree has no control groups.
func answeredInCgroup(env Env, port int, hc *healthConn, cgroup string) int {
	if filepath.Clean(env.ProcRoot) != "/proc" || !hc.client.IsValid() || !strings.HasPrefix(cgroup, "/") {
		return 0
	}
	dir, err := cgroupDir(cgroup)
	if err != nil {
		return 0
	}
	members, err := cgroupMembers(dir)
	if err != nil || len(members) == 0 {
		return 0
	}
	_, server, err := diagSockets(map[uint16]bool{}, hc.client, uint16(port))
	if err != nil || server == nil || server.Inode == 0 {
		return 0
	}
	root, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(root)
	names := make([]string, len(members))
	for i, pid := range members {
		names[i] = strconv.Itoa(pid)
	}
	// The walk's own loop, over the group's members only.
	w := newProcFS("/proc").walkNames(root, names, map[uint64]bool{server.Inode: true})
	if len(w.unreadableFds) > 0 {
		return 0 // a member we cannot read might be the one
	}
	return rootOf(w.owners[server.Inode], treeParent(w.tree))
}

// cgroupDir is the directory of cgroup in the mounted cgroup file system
// that /proc/PID/cgroup paths are read from (ParseCgroup): the unified (v2)
// hierarchy, else systemd's named v1 hierarchy, as /proc/self/mountinfo
// shows them. A hierarchy can be mounted more than once, and a mount can
// show a subtree or, across a cgroup namespace, a root outside ours ("/..",
// as in the e2e sandbox): the first mount whose root is "/" or lies above
// cgroup is the one.
func cgroupDir(cgroup string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	var v2, named []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		m, ok := parseMountinfo(sc.Bytes())
		switch {
		case !ok:
		case m.fstype == "cgroup2":
			v2 = append(v2, m)
		case m.fstype == "cgroup" && hasOption(m.super, "name=systemd"):
			named = append(named, m)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	mounts := v2
	if len(mounts) == 0 {
		mounts = named
	}
	for _, m := range mounts {
		if dir, ok := dirUnder(m, cgroup); ok {
			return dir, nil
		}
	}
	return "", errors.New("no mounted cgroup file system shows " + cgroup)
}

// dirUnder is cgroup's directory below mount m, when m shows it.
func dirUnder(m mountEntry, cgroup string) (string, bool) {
	// A root outside our cgroup namespace ("/..") or a path that climbs
	// is not cgroup's: Clean would hide both.
	if hasDotDot(m.root) || hasDotDot(cgroup) {
		return "", false
	}
	rel := filepath.Clean(cgroup)
	if root := filepath.Clean(m.root); root != "/" {
		r, ok := strings.CutPrefix(rel, root+"/")
		if !ok {
			return "", false
		}
		rel = "/" + r
	}
	return filepath.Join(m.point, rel), true
}

func hasDotDot(path string) bool {
	for e := range strings.SplitSeq(path, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

type mountEntry struct{ root, point, fstype, super string }

// parseMountinfo reads one line of /proc/PID/mountinfo (proc(5)): fields 4
// and 5 are the mount's root and mount point (octal-escaped), then optional
// fields up to "-", then the file system type, the source and the super
// block options.
func parseMountinfo(line []byte) (mountEntry, bool) {
	f := bytes.Fields(line)
	if len(f) < 10 {
		return mountEntry{}, false
	}
	sep := -1
	for i := 6; i < len(f); i++ {
		if string(f[i]) == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+3 >= len(f) {
		return mountEntry{}, false
	}
	return mountEntry{root: unescapeOctal(string(f[3])), point: unescapeOctal(string(f[4])), fstype: string(f[sep+1]), super: string(f[sep+3])}, true
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeOctal undoes the kernel's \ooo escapes of space, tab, newline and
// backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupMembers returns the pids in the cgroup directory dir and every
// directory below it (cgroup.procs of each), at most maxCgroupMembers.
func cgroupMembers(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)) {
				return nil // a subgroup removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := readProcs(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for line := range bytes.Lines(data) {
			pid, err := strconv.Atoi(string(bytes.TrimSpace(line)))
			if err != nil || pid <= 0 {
				continue
			}
			if len(pids) == maxCgroupMembers {
				return errors.New("too many processes in the cgroup")
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids, err
}

// readProcs reads a cgroup.procs file, at most what maxCgroupMembers pids
// take; a larger group is refused, as the caller refuses it.
func readProcs(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const max = maxCgroupMembers * 12 // a pid is at most 11 bytes with its newline
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && len(data) > max {
		// Never parse a cut line: its last pid would be a wrong one.
		return nil, errors.New("too many processes in the cgroup")
	}
	return data, err
}
