package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// cgroup2Mount is where the cgroup2 hierarchy is mounted, as read from
// /proc/self/mountinfo.
type cgroup2Mount struct {
	// Point is the mount point, e.g. /sys/fs/cgroup/unified on a hybrid host.
	Point string
	// Root is the cgroup the mount shows at Point (usually "/").
	Root string
}

// findCgroup2Mount returns the first cgroup2 mount listed in mountinfo.
// The line format is proc(5)'s: "ID PARENT MAJ:MIN ROOT POINT OPTS
// [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS", with spaces in paths escaped as
// octal (\040).
func findCgroup2Mount(mountinfo io.Reader) (cgroup2Mount, error) {
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || sep+1 >= len(fields) {
			continue
		}
		if fields[sep+1] != "cgroup2" {
			continue
		}
		return cgroup2Mount{Point: unescapeMountinfo(fields[4]), Root: unescapeMountinfo(fields[3])}, nil
	}
	if err := sc.Err(); err != nil {
		return cgroup2Mount{}, fmt.Errorf("read mountinfo: %w", err)
	}
	return cgroup2Mount{}, fmt.Errorf("find cgroup2 mount: none in mountinfo")
}

// unescapeMountinfo undoes the kernel's octal escaping of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// ownCgroup2Path returns the unified-hierarchy path ("0::PATH" line) of a
// process from the text of its /proc/PID/cgroup.
func ownCgroup2Path(procCgroup io.Reader) (string, error) {
	sc := bufio.NewScanner(procCgroup)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("parse cgroup line %q: path is not absolute", line)
			}
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read cgroup file: %w", err)
	}
	return "", fmt.Errorf("find cgroup2 path: no 0:: line (no unified hierarchy)")
}

// cgroupDir maps a cgroup path (as /proc/PID/cgroup names it) to its
// directory under the cgroup2 mount. It refuses paths outside what the mount
// shows, such as "/.." seen from inside a cgroup namespace.
func cgroupDir(m cgroup2Mount, cgPath string) (string, error) {
	clean := path.Clean(cgPath)
	if clean != cgPath || strings.Contains(cgPath, "/..") {
		return "", fmt.Errorf("map cgroup %q: not a clean path inside the hierarchy", cgPath)
	}
	root := path.Clean(m.Root)
	rel := ""
	switch {
	case root == "/":
		rel = clean
	case clean == root:
		rel = "/"
	case strings.HasPrefix(clean, root+"/"):
		rel = strings.TrimPrefix(clean, root)
	default:
		return "", fmt.Errorf("map cgroup %q: outside the cgroup2 mount at %s (root %s)", cgPath, m.Point, m.Root)
	}
	return path.Join(m.Point, rel), nil
}

// inCgroup reports whether the cgroup path p is base or below it.
func inCgroup(p, base string) bool {
	return p == base || strings.HasPrefix(p, strings.TrimSuffix(base, "/")+"/")
}
