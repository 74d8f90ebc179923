package boxfs

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nobody is the uid and gid root-only tests hand files to.
const nobody = 65534

// TestMain sets a umask that would change every mode the package sets, so
// that a test seeing the exact mode proves the package set it.
func TestMain(m *testing.M) {
	unix.Umask(0o027)
	os.Exit(m.Run())
}

func isRoot() bool { return os.Getuid() == 0 }

func needRoot(t *testing.T, why string) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root: " + why)
	}
}

// within runs f and fails the test if it has not returned after 2 s, so a
// blocking open fails the test instead of freezing it.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s did not return within 2s (blocked?)", what)
	}
}

func write(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}

// mkdir makes path and sets its mode, a stat mode (0o1777 is sticky).
func mkdir(t *testing.T, path string, mode uint32) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (lstat: %v), want it never created", path, err)
	}
}

func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func owner(t *testing.T, path string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid)
}

// noTemps fails when dir holds a temporary file of WriteFile's.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

// errAny, as a wanted error, stands for any error.
var errAny = errors.New("any error")

// checkErr checks err against want (nil: no error; errAny: any error) and
// that its text holds every string in msgs.
func checkErr(t *testing.T, err, want error, msgs ...string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want == errAny && err == nil:
		t.Fatal("no error, want one")
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("error %v, want one wrapping %q", err, want)
	}
	for _, m := range msgs {
		if err == nil || !strings.Contains(err.Error(), m) {
			t.Errorf("error %v, want it to contain %q", err, m)
		}
	}
}

func TestReadFile(t *testing.T) {
	uid := os.Getuid()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to read
		max   int64
		trust []int
		want  string // content, when wantErr is nil
		err   error
		msgs  []string // substrings of the error; "$p" is the path read, "$d" the temp dir
	}{
		{
			name:  "regular file",
			setup: func(t *testing.T, d string) string { p := d + "/f"; write(t, p, "hello", 0o640); return p },
			max:   100, want: "hello",
		},
		{
			name:  "exactly the cap",
			setup: func(t *testing.T, d string) string { p := d + "/f"; write(t, p, "hello", 0o600); return p },
			max:   5, want: "hello",
		},
		{
			name:  "one byte over the cap",
			setup: func(t *testing.T, d string) string { p := d + "/f"; write(t, p, "hello!", 0o600); return p },
			max:   5, err: ErrTooLarge, msgs: []string{"read $p: larger than the limit of 5 bytes (size 6)"},
		},
		{
			name:  "empty file, zero cap",
			setup: func(t *testing.T, d string) string { p := d + "/f"; write(t, p, "", 0o600); return p },
			max:   0, want: "",
		},
		{
			name: "file longer than its size says",
			setup: func(t *testing.T, d string) string {
				if runtime.GOOS != "linux" {
					t.Skip("needs /proc (Linux)")
				}
				return "/proc/self/status" // stat size 0, content hundreds of bytes
			},
			max: 16, err: ErrTooLarge, msgs: []string{"read /proc/self/status: larger than the limit of 16 bytes"},
		},
		{
			name:  "fifo",
			setup: func(t *testing.T, d string) string { p := d + "/fifo"; mkfifo(t, p); return p },
			max:   100, err: ErrNotRegular, msgs: []string{"read $p: not a regular file (named pipe)"},
		},
		{
			name: "character device",
			setup: func(t *testing.T, d string) string {
				if _, err := os.Stat("/dev/zero"); err != nil {
					t.Skip("no /dev/zero here")
				}
				return "/dev/zero"
			},
			max: 100, err: ErrNotRegular, msgs: []string{"read /dev/zero: not a regular file (character device)"},
		},
		{
			name:  "directory",
			setup: func(t *testing.T, d string) string { return d },
			max:   100, err: ErrNotRegular, msgs: []string{"(directory)"},
		},
		{
			name: "socket",
			setup: func(t *testing.T, d string) string {
				p := d + "/s"
				l, err := net.Listen("unix", p)
				if err != nil {
					t.Skipf("cannot make a unix socket: %v", err)
				}
				t.Cleanup(func() { l.Close() })
				return p
			},
			max: 100, err: ErrNotRegular, msgs: []string{"(socket)"},
		},
		{
			name:  "missing",
			setup: func(t *testing.T, d string) string { return d + "/nope" },
			max:   100, err: fs.ErrNotExist, msgs: []string{"read $p: no such file or directory"},
		},
		{
			name: "untrusted final symlink is not followed",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/target", "secret", 0o600)
				symlink(t, d+"/target", d+"/link")
				return d + "/link"
			},
			max: 100, trust: nil, err: ErrSymlink,
			msgs: []string{"read $p: $p is a symlink to $d/target made by uid", "links are not followed here"},
		},
		{
			name: "own link, only another uid trusted",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/target", "secret", 0o600)
				symlink(t, d+"/target", d+"/link")
				return d + "/link"
			},
			max: 100, trust: []int{uid + 1}, err: ErrSymlink,
			msgs: []string{fmt.Sprintf("only links made by uid %d", uid+1)},
		},
		{
			name: "trusted final symlink is followed",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/target", "data", 0o600)
				symlink(t, d+"/target", d+"/link")
				return d + "/link"
			},
			max: 100, trust: []int{uid, 0}, want: "data",
		},
		{
			name: "trusted relative symlink",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/sub/target", "rel", 0o600)
				symlink(t, "sub/target", d+"/link")
				return d + "/link"
			},
			max: 100, trust: []int{uid}, want: "rel",
		},
		{
			name: "trusted symlink to a fifo",
			setup: func(t *testing.T, d string) string {
				mkfifo(t, d+"/fifo")
				symlink(t, d+"/fifo", d+"/link")
				return d + "/link"
			},
			max: 100, trust: []int{uid}, err: ErrNotRegular, msgs: []string{"read $p -> $d/fifo: not a regular file (named pipe)"},
		},
		{
			name: "trusted symlink to a missing file",
			setup: func(t *testing.T, d string) string {
				symlink(t, d+"/nope", d+"/link")
				return d + "/link"
			},
			max: 100, trust: []int{uid}, err: fs.ErrNotExist,
		},
		{
			name:  "eight trusted links in a row",
			setup: func(t *testing.T, d string) string { return chain(t, d, 8) },
			max:   100, trust: []int{uid}, want: "end",
		},
		{
			name:  "nine trusted links in a row",
			setup: func(t *testing.T, d string) string { return chain(t, d, 9) },
			max:   100, trust: []int{uid}, err: ErrSymlink, msgs: []string{"after 8 links already followed"},
		},
		{
			name: "a link in a directory on the way is followed (R1's business)",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/real/f", "via", 0o600)
				symlink(t, d+"/real", d+"/dirlink")
				return d + "/dirlink/f"
			},
			max: 100, trust: nil, want: "via",
		},
		{
			name: "link owned by another uid, owner trusted",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown of a link to another uid")
				write(t, d+"/target", "secret", 0o600)
				symlink(t, d+"/target", d+"/link")
				chown(t, d+"/link", nobody)
				return d + "/link"
			},
			max: 100, trust: []int{uid, 0}, err: ErrSymlink, msgs: []string{"made by uid 65534", "only links made by uid 0 (root) are followed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := tc.setup(t, d)
			var (
				data []byte
				info Info
				err  error
			)
			within(t, "ReadFile", func() { data, info, err = ReadFile(p, tc.max, tc.trust) })
			var msgs []string
			for _, m := range tc.msgs {
				msgs = append(msgs, strings.NewReplacer("$p", p, "$d", d).Replace(m))
			}
			checkErr(t, err, tc.err, msgs...)
			if tc.err != nil {
				if data != nil {
					t.Errorf("data %q returned with the error", data)
				}
				return
			}
			if string(data) != tc.want {
				t.Errorf("data %q, want %q", data, tc.want)
			}
			if info.Size != int64(len(tc.want)) || !info.Mode.IsRegular() || info.UID != uid {
				t.Errorf("info %+v, want a regular file of %d bytes owned by %d", info, len(tc.want), uid)
			}
		})
	}
}

func TestReadFileInfo(t *testing.T) {
	p := t.TempDir() + "/f"
	write(t, p, "12345", 0o640)
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	_, info, err := ReadFile(p, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{UID: os.Getuid(), GID: os.Getgid(), Mode: 0o640, Size: 5, ModTime: when}
	if info.UID != want.UID || info.GID != want.GID || info.Mode != want.Mode || info.Size != want.Size || !info.ModTime.Equal(want.ModTime) {
		t.Errorf("info %+v, want %+v", info, want)
	}
}

// chain makes n trusted links in a row ending at a file holding "end" and
// returns the first link.
func chain(t *testing.T, d string, n int) string {
	write(t, d+"/end", "end", 0o600)
	next := d + "/end"
	for i := n; i >= 1; i-- {
		l := fmt.Sprintf("%s/l%d", d, i)
		symlink(t, next, l)
		next = l
	}
	return next
}

func TestCheckTrusted(t *testing.T) {
	uid := os.Getuid()
	tests := []struct {
		name  string
		setup func(t *testing.T, d string) string
		owner int
		fail  string // the failing component ("$d" the temp dir, "$D" its parent); "" means trusted
		why   string
		err   error // a non-Untrusted error
	}{
		{
			name:  "file in the temp dir (sticky root-owned /tmp on the way)",
			setup: func(t *testing.T, d string) string { write(t, d+"/f", "x", 0o600); return d + "/f" },
			owner: uid,
		},
		{
			name:  "group-writable file",
			setup: func(t *testing.T, d string) string { write(t, d+"/f", "x", 0o664); return d + "/f" },
			owner: uid, fail: "$d/f", why: "writable by group (mode 0664)",
		},
		{
			name: "world-writable directory on the way",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/w/f", "x", 0o600)
				mkdir(t, d+"/w", 0o777)
				return d + "/w/f"
			},
			owner: uid, fail: "$d/w", why: "writable by others (mode 0777)",
		},
		{
			name: "sticky directory on the way, owned by the caller",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/s/f", "x", 0o600)
				mkdir(t, d+"/s", 0o1777)
				return d + "/s/f"
			},
			owner: uid,
			// Root-owned when run as root, and then acceptable like /tmp.
			fail: map[bool]string{true: "", false: "$d/s"}[isRoot()],
			why:  map[bool]string{true: "", false: "writable by others (mode 1777)"}[isRoot()],
		},
		{
			name:  "sticky directory as the path itself",
			setup: func(t *testing.T, d string) string { mkdir(t, d+"/s", 0o1777); return d + "/s" },
			owner: uid, fail: "$d/s", why: "writable by others (mode 1777)",
		},
		{
			name: "symlink on the way to a trusted directory",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/real/f", "x", 0o600)
				symlink(t, "real", d+"/l")
				return d + "/l/f"
			},
			owner: uid,
		},
		{
			name: "symlink on the way to a group-writable directory",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/real/f", "x", 0o600)
				mkdir(t, d+"/real", 0o770)
				symlink(t, d+"/real", d+"/l")
				return d + "/l/f"
			},
			owner: uid, fail: "$d/real", why: "writable by group (mode 0770)",
		},
		{
			name: "final symlink to a group-writable file",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/target", "x", 0o620)
				symlink(t, "target", d+"/l")
				return d + "/l"
			},
			owner: uid, fail: "$d/target", why: "writable by group (mode 0620)",
		},
		{
			name: "dot-dot after a link is resolved physically",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/a/f", "x", 0o600)          // the lexical reading of a/l/../f
				write(t, d+"/other/deep/f", "x", 0o660) // the kernel's
				mkdir(t, d+"/other/deep/dir", 0o755)
				symlink(t, d+"/other/deep/dir", d+"/a/l")
				return d + "/a/l/../f"
			},
			owner: uid, fail: "$d/other/deep/f", why: "writable by group (mode 0660)",
		},
		{
			name:  "missing component",
			setup: func(t *testing.T, d string) string { return d + "/nope/f" },
			owner: uid, err: fs.ErrNotExist,
		},
		{
			name: "file under a file",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/f", "x", 0o600)
				return d + "/f/g"
			},
			owner: uid, err: unix.ENOTDIR,
		},
		{
			name:  "file of a uid that is neither the owner nor root",
			setup: func(t *testing.T, d string) string { write(t, d+"/f", "x", 0o600); return d + "/f" },
			// Run as root the file is root's, and root is always trusted.
			owner: uid + 1,
			// Else the first such component is the test's own directory, the
			// parent of t.TempDir().
			fail: map[bool]string{true: "", false: "$D"}[isRoot()],
			why:  map[bool]string{true: "", false: fmt.Sprintf("owned by uid %d", uid)}[isRoot()],
		},
		{
			name: "file owned by another uid",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown to another uid")
				write(t, d+"/f", "x", 0o600)
				chown(t, d+"/f", nobody)
				return d + "/f"
			},
			owner: uid, fail: "$d/f", why: "owned by uid 65534",
		},
		{
			name: "directory on the way owned by another uid",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown to another uid")
				write(t, d+"/o/f", "x", 0o600)
				chown(t, d+"/o", nobody)
				return d + "/o/f"
			},
			owner: uid, fail: "$d/o", why: "owned by uid 65534",
		},
		{
			name: "symlink owned by another uid",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown to another uid")
				write(t, d+"/real/f", "x", 0o600)
				symlink(t, "real", d+"/l")
				chown(t, d+"/l", nobody)
				return d + "/l/f"
			},
			owner: uid, fail: "$d/l", why: "a symlink owned by uid 65534",
		},
		{
			name: "file of the box owner checked by root",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown to another uid")
				write(t, d+"/o/f", "x", 0o600)
				chown(t, d+"/o", nobody)
				chown(t, d+"/o/f", nobody)
				return d + "/o/f"
			},
			owner: nobody,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := tc.setup(t, d)
			err := CheckTrusted(p, tc.owner)
			if tc.err != nil {
				checkErr(t, err, tc.err, p)
				return
			}
			if tc.fail == "" {
				if err != nil {
					t.Fatalf("CheckTrusted(%s) = %v, want trusted", p, err)
				}
				return
			}
			var u *Untrusted
			if !errors.As(err, &u) {
				t.Fatalf("CheckTrusted(%s) = %v, want an *Untrusted", p, err)
			}
			fail := strings.NewReplacer("$d", d, "$D", filepath.Dir(d)).Replace(tc.fail)
			if u.Path != fail || !strings.Contains(u.Why, tc.why) {
				t.Errorf("untrusted %q: %q, want %q: %q", u.Path, u.Why, fail, tc.why)
			}
			if got := u.Error(); !strings.HasPrefix(got, fail+" is "+tc.why) {
				t.Errorf("text %q, want it to start %q", got, fail+" is "+tc.why)
			}
		})
	}
}

func TestFirstLink(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, d string) (root string)
		rel        string
		link, targ string // "$d" the temp dir; link "" means none
		wantErr    bool
	}{
		{
			name:  "no link",
			setup: func(t *testing.T, d string) string { mkdir(t, d+"/h/a/b", 0o755); return d + "/h" },
			rel:   "a/b",
		},
		{
			name: "link in the middle",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/h/a", 0o755)
				mkdir(t, d+"/elsewhere/b", 0o755)
				symlink(t, d+"/elsewhere", d+"/h/a/l")
				return d + "/h"
			},
			rel: "a/l/b/c", link: "$d/h/a/l", targ: "$d/elsewhere",
		},
		{
			name: "link at the end",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/h/a", 0o755)
				symlink(t, "/etc/passwd", d+"/h/a/f")
				return d + "/h"
			},
			rel: "a/f", link: "$d/h/a/f", targ: "/etc/passwd",
		},
		{
			name: "dangling link",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/h", 0o755)
				symlink(t, "../nowhere", d+"/h/run")
				return d + "/h"
			},
			rel: "run/x.pid", link: "$d/h/run", targ: "../nowhere",
		},
		{
			name: "a file in the middle ends the walk",
			setup: func(t *testing.T, d string) string {
				write(t, d+"/h/a", "x", 0o600)
				return d + "/h"
			},
			rel: "a/l",
		},
		{
			name:  "missing component ends the walk",
			setup: func(t *testing.T, d string) string { mkdir(t, d+"/h", 0o755); return d + "/h" },
			rel:   "a/b/c",
		},
		{
			name: "the root itself is a link: followed, not reported",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/real/a", 0o755)
				symlink(t, d+"/real/a", d+"/real/a/l") // a link below it is still reported
				symlink(t, d+"/real", d+"/h")
				return d + "/h"
			},
			rel: "a/l/x", link: "$d/h/a/l", targ: "$d/real/a",
		},
		{
			name:  "dot-dot",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "../x", wantErr: true,
		},
		{
			name:    "absolute",
			setup:   func(t *testing.T, d string) string { return d },
			rel:     "/etc",
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			root := tc.setup(t, d)
			link, target, err := FirstLink(root, tc.rel)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("FirstLink(%s, %q) = %q, %q, nil; want an error", root, tc.rel, link, target)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wl := strings.ReplaceAll(tc.link, "$d", d)
			wt := strings.ReplaceAll(tc.targ, "$d", d)
			if link != wl || target != wt {
				t.Errorf("FirstLink = %q -> %q, want %q -> %q", link, target, wl, wt)
			}
		})
	}
}

func TestOpenDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, d string) (root string)
		rel   string
		mk    *Mkdir
		err   error
		msgs  []string
		check func(t *testing.T, d string, dir *Dir)
	}{
		{
			name:  "root itself",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "",
			check: func(t *testing.T, d string, dir *Dir) {
				if dir.Path() != d {
					t.Errorf("Path %q, want %q", dir.Path(), d)
				}
			},
		},
		{
			name:  "dot",
			setup: func(t *testing.T, d string) string { return d },
			rel:   ".",
		},
		{
			name: "root is a symlink: followed",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/real/a", 0o755)
				symlink(t, d+"/real", d+"/h")
				return d + "/h"
			},
			rel: "a",
			check: func(t *testing.T, d string, dir *Dir) {
				if dir.Path() != d+"/h/a" {
					t.Errorf("Path %q, want %q", dir.Path(), d+"/h/a")
				}
			},
		},
		{
			name: "symlink in the middle",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/h/a", 0o755)
				mkdir(t, d+"/etc", 0o755)
				symlink(t, d+"/etc", d+"/h/a/logs")
				return d + "/h"
			},
			rel: "a/logs/b", mk: &Mkdir{Perm: 0o755, UID: -1, GID: -1},
			err:  ErrSymlink,
			msgs: []string{"open $d/h/a/logs/b: $d/h/a/logs is a symlink to $d/etc: refusing to go through a link parachute did not create"},
			check: func(t *testing.T, d string, _ *Dir) {
				mustNotExist(t, d+"/etc/b") // nothing created through the link
			},
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, d string) string {
				mkdir(t, d+"/h", 0o755)
				symlink(t, d+"/nowhere", d+"/h/run")
				return d + "/h"
			},
			rel: "run", mk: &Mkdir{Perm: 0o755, UID: -1, GID: -1},
			err:  ErrSymlink,
			msgs: []string{"$d/h/run is a symlink to $d/nowhere"},
			check: func(t *testing.T, d string, _ *Dir) {
				mustNotExist(t, d+"/nowhere")
			},
		},
		{
			name:  "missing directories are created with the mode",
			setup: func(t *testing.T, d string) string { mkdir(t, d+"/h/a", 0o700); return d + "/h" },
			rel:   "a/b/c", mk: &Mkdir{Perm: 0o775, UID: -1, GID: -1},
			check: func(t *testing.T, d string, dir *Dir) {
				for _, p := range []string{d + "/h/a/b", d + "/h/a/b/c"} {
					if got := perm(t, p); got != 0o775 {
						t.Errorf("%s mode %o, want 0775 (umask is 027)", p, got)
					}
				}
				if got := perm(t, d+"/h/a"); got != 0o700 {
					t.Errorf("existing %s changed to mode %o", d+"/h/a", got)
				}
				if dir.Path() != d+"/h/a/b/c" {
					t.Errorf("Path %q", dir.Path())
				}
			},
		},
		{
			name:  "missing without mk",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "a/b",
			err:   fs.ErrNotExist,
			msgs:  []string{"$d/a: no such file or directory"},
			check: func(t *testing.T, d string, _ *Dir) { mustNotExist(t, d+"/a") },
		},
		{
			name:  "missing root",
			setup: func(t *testing.T, d string) string { return d + "/nope" },
			rel:   "a", mk: &Mkdir{Perm: 0o755, UID: -1, GID: -1},
			err:   fs.ErrNotExist,
			check: func(t *testing.T, d string, _ *Dir) { mustNotExist(t, d+"/nope") },
		},
		{
			name:  "a file on the way",
			setup: func(t *testing.T, d string) string { write(t, d+"/f", "x", 0o600); return d },
			rel:   "f/b", mk: &Mkdir{Perm: 0o755, UID: -1, GID: -1},
			err:  unix.ENOTDIR,
			msgs: []string{"$d/f: not a directory (regular file)"},
		},
		{
			name:  "dot-dot",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "a/../../x",
			err:   errAny,
			msgs:  []string{"not a relative path below the root"},
		},
		{
			name:  "absolute",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "/etc",
			err:   errAny,
			msgs:  []string{"not a relative path below the root"},
		},
		{
			name:  "zero Mkdir",
			setup: func(t *testing.T, d string) string { return d },
			rel:   "a", mk: &Mkdir{},
			err: errAny, msgs: []string{"mode 0"},
			check: func(t *testing.T, d string, _ *Dir) { mustNotExist(t, d+"/a") },
		},
		{
			name: "created directories get the owner",
			setup: func(t *testing.T, d string) string {
				needRoot(t, "chown to another uid")
				mkdir(t, d+"/h/old", 0o755)
				return d + "/h"
			},
			rel: "old/new", mk: &Mkdir{Perm: 0o2750, UID: nobody, GID: nobody},
			check: func(t *testing.T, d string, _ *Dir) {
				if got := owner(t, d+"/h/old/new"); got != nobody {
					t.Errorf("new directory owned by %d, want %d", got, nobody)
				}
				if got := owner(t, d+"/h/old"); got != 0 {
					t.Errorf("existing directory chowned to %d", got)
				}
				if got := perm(t, d+"/h/old/new"); got != 0o750|fs.ModeSetgid {
					t.Errorf("new directory mode %v, want setgid 0750", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			root := tc.setup(t, d)
			dir, err := OpenDir(root, tc.rel, tc.mk)
			var msgs []string
			for _, m := range tc.msgs {
				msgs = append(msgs, strings.ReplaceAll(m, "$d", d))
			}
			checkErr(t, err, tc.err, msgs...)
			if tc.check != nil {
				tc.check(t, d, dir)
			}
			if dir != nil {
				if err := dir.Close(); err != nil {
					t.Error(err)
				}
				if err := dir.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
			}
		})
	}
}

func openTestDir(t *testing.T, path string) *Dir {
	t.Helper()
	dir, err := OpenDir(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return dir
}

func TestDirWriteFile(t *testing.T) {
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name    string
		setup   func(t *testing.T, d string)
		file    string
		data    string
		perm    fs.FileMode
		uid     int
		changed bool
		err     error
		msgs    []string
		check   func(t *testing.T, d string)
	}{
		{
			name: "new file, exact mode", file: "unit", data: "new", perm: 0o604, uid: -1, changed: true,
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/w/unit"); got != "new" {
					t.Errorf("content %q", got)
				}
				if got := perm(t, d+"/w/unit"); got != 0o604 {
					t.Errorf("mode %o, want 0604 (umask is 027)", got)
				}
			},
		},
		{
			name:  "different content is replaced",
			setup: func(t *testing.T, d string) { write(t, d+"/w/unit", "old content", 0o644) },
			file:  "unit", data: "new", perm: 0o644, uid: -1, changed: true,
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/w/unit"); got != "new" {
					t.Errorf("content %q", got)
				}
			},
		},
		{
			name: "identical content is left alone",
			setup: func(t *testing.T, d string) {
				write(t, d+"/w/unit", "same", 0o644)
				if err := os.Chtimes(d+"/w/unit", past, past); err != nil {
					t.Fatal(err)
				}
			},
			file: "unit", data: "same", perm: 0o644, uid: -1, changed: false,
			check: func(t *testing.T, d string) {
				fi, err := os.Stat(d + "/w/unit")
				if err != nil {
					t.Fatal(err)
				}
				if !fi.ModTime().Equal(past) {
					t.Errorf("mtime %v, want it kept at %v", fi.ModTime(), past)
				}
			},
		},
		{
			name:  "identical content, wrong mode: replaced with the mode",
			setup: func(t *testing.T, d string) { write(t, d+"/w/unit", "same", 0o666) },
			file:  "unit", data: "same", perm: 0o644, uid: -1, changed: true,
			check: func(t *testing.T, d string) {
				if got := perm(t, d+"/w/unit"); got != 0o644 {
					t.Errorf("mode %o, want 0644", got)
				}
			},
		},
		{
			name: "target is a symlink",
			setup: func(t *testing.T, d string) {
				write(t, d+"/outside", "precious", 0o600)
				symlink(t, d+"/outside", d+"/w/unit")
			},
			file: "unit", data: "evil", perm: 0o644, uid: -1, err: ErrSymlink,
			msgs: []string{"write $d/w/unit: $d/w/unit is a symlink to $d/outside: refusing to go through a link parachute did not create"},
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/outside"); got != "precious" {
					t.Errorf("link target now holds %q", got)
				}
				if fi, err := os.Lstat(d + "/w/unit"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("the link was replaced: %v %v", fi, err)
				}
			},
		},
		{
			name:  "target is a dangling symlink",
			setup: func(t *testing.T, d string) { symlink(t, d+"/created", d+"/w/unit") },
			file:  "unit", data: "evil", perm: 0o644, uid: -1, err: ErrSymlink,
			check: func(t *testing.T, d string) { mustNotExist(t, d+"/created") },
		},
		{
			name:  "target is a fifo",
			setup: func(t *testing.T, d string) { mkfifo(t, d+"/w/unit") },
			file:  "unit", data: "x", perm: 0o644, uid: -1, err: ErrNotRegular, msgs: []string{"(named pipe)"},
		},
		{
			name:  "target is a directory",
			setup: func(t *testing.T, d string) { mkdir(t, d+"/w/unit", 0o755) },
			file:  "unit", data: "x", perm: 0o644, uid: -1, err: ErrNotRegular, msgs: []string{"(directory)"},
		},
		{
			name: "a directory appears before the rename: error, temp removed",
			setup: func(t *testing.T, d string) {
				testHookBeforeRename = func() { mkdir(t, d+"/w/unit/sub", 0o755) }
				t.Cleanup(func() { testHookBeforeRename = nil })
			},
			file: "unit", data: "x", perm: 0o644, uid: -1, err: errAny, msgs: []string{"rename"},
		},
		{
			name: "a link appears before the rename: the link is replaced, not written through",
			setup: func(t *testing.T, d string) {
				write(t, d+"/outside", "precious", 0o600)
				testHookBeforeRename = func() { symlink(t, d+"/outside", d+"/w/unit") }
				t.Cleanup(func() { testHookBeforeRename = nil })
			},
			file: "unit", data: "new", perm: 0o644, uid: -1, changed: true,
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/outside"); got != "precious" {
					t.Errorf("link target now holds %q", got)
				}
				if fi, err := os.Lstat(d + "/w/unit"); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("unit is not a regular file: %v %v", fi, err)
				}
			},
		},
		{
			name: "chown fails (not root): error, temp removed",
			setup: func(t *testing.T, d string) {
				if isRoot() {
					t.Skip("root may chown to anyone")
				}
			},
			file: "unit", data: "x", perm: 0o644, uid: os.Getuid() + 1, err: unix.EPERM,
			check: func(t *testing.T, d string) { mustNotExist(t, d+"/w/unit") },
		},
		{
			name:  "owner set",
			setup: func(t *testing.T, d string) { needRoot(t, "chown to another uid") },
			file:  "unit", data: "x", perm: 0o640, uid: nobody, changed: true,
			check: func(t *testing.T, d string) {
				if got := owner(t, d+"/w/unit"); got != nobody {
					t.Errorf("owned by %d, want %d", got, nobody)
				}
				if got := perm(t, d+"/w/unit"); got != 0o640 {
					t.Errorf("mode %o, want 0640", got)
				}
			},
		},
		{
			name:  "identical content, other owner: replaced",
			setup: func(t *testing.T, d string) { write(t, d+"/w/unit", "x", 0o640) },
			file:  "unit", data: "x", perm: 0o640, uid: os.Getuid() + 1, changed: true,
			err: map[bool]error{true: nil, false: unix.EPERM}[isRoot()],
		},
		{name: "empty name", err: errAny, file: "", data: "x", perm: 0o644, uid: -1, msgs: []string{"not a single file name"}},
		{name: "dot", err: errAny, file: ".", data: "x", perm: 0o644, uid: -1, msgs: []string{"not a single file name"}},
		{name: "dot-dot", err: errAny, file: "..", data: "x", perm: 0o644, uid: -1, msgs: []string{"not a single file name"}},
		{name: "slash", err: errAny, file: "a/b", data: "x", perm: 0o644, uid: -1, msgs: []string{"not a single file name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			mkdir(t, d+"/w", 0o755)
			wdir := d + "/w"
			if tc.setup != nil {
				tc.setup(t, d)
			}
			dir := openTestDir(t, wdir)
			var changed bool
			var err error
			within(t, "WriteFile", func() {
				changed, err = dir.WriteFile(tc.file, []byte(tc.data), tc.perm, tc.uid, tc.uid)
			})
			var msgs []string
			for _, m := range tc.msgs {
				msgs = append(msgs, strings.ReplaceAll(m, "$d", d))
			}
			checkErr(t, err, tc.err, msgs...)
			if err == nil && changed != tc.changed {
				t.Errorf("changed %v, want %v", changed, tc.changed)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
			noTemps(t, wdir)
		})
	}
}

func TestWriteFile(t *testing.T) {
	t.Run("creates the directories", func(t *testing.T) {
		d := t.TempDir()
		changed, err := WriteFile(d, "hub/run/hub.pid", []byte("42\n"), 0o644, &Mkdir{Perm: 0o700, UID: -1, GID: -1}, -1, -1)
		if err != nil || !changed {
			t.Fatalf("WriteFile = %v, %v", changed, err)
		}
		if got := content(t, d+"/hub/run/hub.pid"); got != "42\n" {
			t.Errorf("content %q", got)
		}
		if got := perm(t, d+"/hub/run"); got != 0o700 {
			t.Errorf("created directory mode %o", got)
		}
		changed, err = WriteFile(d, "hub/run/hub.pid", []byte("42\n"), 0o644, nil, -1, -1)
		if err != nil || changed {
			t.Errorf("second WriteFile = %v, %v; want unchanged", changed, err)
		}
		noTemps(t, d+"/hub/run")
	})
	t.Run("refuses a symlinked directory", func(t *testing.T) {
		d := t.TempDir()
		mkdir(t, d+"/h/hub", 0o755)
		mkdir(t, d+"/etc", 0o755)
		symlink(t, d+"/etc", d+"/h/hub/logs")
		_, err := WriteFile(d+"/h", "hub/logs/hub.log", []byte("x"), 0o644, &Mkdir{Perm: 0o755, UID: -1, GID: -1}, -1, -1)
		want := fmt.Sprintf("write %[1]s/h/hub/logs/hub.log: %[1]s/h/hub/logs is a symlink to %[1]s/etc: refusing to go through a link parachute did not create", d)
		if !errors.Is(err, ErrSymlink) || err.Error() != want {
			t.Errorf("error %v\nwant %s", err, want)
		}
		mustNotExist(t, d+"/etc/hub.log")
	})
	t.Run("rel names no file", func(t *testing.T) {
		for _, rel := range []string{"", ".", "..", "/abs", "a/../.."} {
			if _, err := WriteFile(t.TempDir(), rel, nil, 0o644, nil, -1, -1); err == nil {
				t.Errorf("WriteFile(%q) succeeded", rel)
			}
		}
	})
}

func TestOpenAppend(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, d string)
		perm  fs.FileMode
		uid   int
		err   error
		msgs  []string
		check func(t *testing.T, d string)
	}{
		{
			name: "new file, exact mode, appended twice", perm: 0o604, uid: -1,
			check: func(t *testing.T, d string) {
				if got := perm(t, d+"/hub.log"); got != 0o604 {
					t.Errorf("mode %o, want 0604 (umask is 027)", got)
				}
			},
		},
		{
			name:  "existing file keeps its mode",
			setup: func(t *testing.T, d string) { write(t, d+"/hub.log", "", 0o600) },
			perm:  0o644, uid: -1,
			check: func(t *testing.T, d string) {
				if got := perm(t, d+"/hub.log"); got != 0o600 {
					t.Errorf("mode %o, want 0600 kept", got)
				}
			},
		},
		{
			name: "symlink",
			setup: func(t *testing.T, d string) {
				write(t, d+"/passwd", "root:x:0:0", 0o644)
				symlink(t, d+"/passwd", d+"/hub.log")
			},
			perm: 0o644, uid: -1, err: ErrSymlink,
			msgs: []string{"append to $d/hub.log: $d/hub.log is a symlink to $d/passwd"},
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/passwd"); got != "root:x:0:0" {
					t.Errorf("link target now holds %q", got)
				}
			},
		},
		{
			name:  "dangling symlink",
			setup: func(t *testing.T, d string) { symlink(t, d+"/created", d+"/hub.log") },
			perm:  0o644, uid: -1, err: ErrSymlink,
			check: func(t *testing.T, d string) { mustNotExist(t, d+"/created") },
		},
		{
			name:  "fifo",
			setup: func(t *testing.T, d string) { mkfifo(t, d+"/hub.log") },
			perm:  0o644, uid: -1, err: ErrNotRegular, msgs: []string{"(named pipe)"},
		},
		{
			name:  "directory",
			setup: func(t *testing.T, d string) { mkdir(t, d+"/hub.log", 0o755) },
			perm:  0o644, uid: -1, err: ErrNotRegular, msgs: []string{"(directory)"},
		},
		{
			name: "hard link",
			setup: func(t *testing.T, d string) {
				write(t, d+"/other", "precious", 0o644)
				if err := os.Link(d+"/other", d+"/hub.log"); err != nil {
					t.Skipf("cannot hard-link here: %v", err)
				}
			},
			perm: 0o644, uid: -1, err: ErrHardLink,
			check: func(t *testing.T, d string) {
				if got := content(t, d+"/other"); got != "precious" {
					t.Errorf("other name now holds %q", got)
				}
			},
		},
		{
			name:  "created file gets the owner",
			setup: func(t *testing.T, d string) { needRoot(t, "chown to another uid") },
			perm:  0o640, uid: nobody,
			check: func(t *testing.T, d string) {
				if got := owner(t, d+"/hub.log"); got != nobody {
					t.Errorf("owned by %d, want %d", got, nobody)
				}
			},
		},
		{
			name: "existing file keeps its owner",
			setup: func(t *testing.T, d string) {
				needRoot(t, "chown to another uid")
				write(t, d+"/hub.log", "", 0o600)
			},
			perm: 0o640, uid: nobody,
			check: func(t *testing.T, d string) {
				if got := owner(t, d+"/hub.log"); got != 0 {
					t.Errorf("existing file chowned to %d", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, d)
			}
			dir := openTestDir(t, d)
			var f *os.File
			var err error
			within(t, "OpenAppend", func() { f, err = dir.OpenAppend("hub.log", tc.perm, tc.uid, tc.uid) })
			var msgs []string
			for _, m := range tc.msgs {
				msgs = append(msgs, strings.ReplaceAll(m, "$d", d))
			}
			checkErr(t, err, tc.err, msgs...)
			if err == nil {
				before := content(t, d+"/hub.log")
				if _, err := f.WriteString("one\n"); err != nil {
					t.Fatal(err)
				}
				f.Close()
				f, err = dir.OpenAppend("hub.log", tc.perm, tc.uid, tc.uid)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteString("two\n"); err != nil {
					t.Fatal(err)
				}
				f.Close()
				if got := content(t, d+"/hub.log"); got != before+"one\ntwo\n" {
					t.Errorf("content %q, want %q", got, before+"one\ntwo\n")
				}
			} else if f != nil {
				t.Errorf("a file returned with the error")
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		d := t.TempDir()
		write(t, d+"/f", "x", 0o600)
		if err := openTestDir(t, d).Remove("f"); err != nil {
			t.Fatal(err)
		}
		mustNotExist(t, d+"/f")
	})
	t.Run("missing", func(t *testing.T) {
		if err := openTestDir(t, t.TempDir()).Remove("f"); err != nil {
			t.Errorf("Remove of a missing file: %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		d := t.TempDir()
		mkdir(t, d+"/sub", 0o755)
		err := openTestDir(t, d).Remove("sub")
		checkErr(t, err, unix.EISDIR, "remove "+d+"/sub")
		if _, err := os.Stat(d + "/sub"); err != nil {
			t.Errorf("directory gone: %v", err)
		}
	})
	t.Run("symlink: the link goes, the target stays", func(t *testing.T) {
		d := t.TempDir()
		write(t, d+"/target", "x", 0o600)
		symlink(t, d+"/target", d+"/l")
		if err := openTestDir(t, d).Remove("l"); err != nil {
			t.Fatal(err)
		}
		mustNotExist(t, d+"/l")
		if got := content(t, d+"/target"); got != "x" {
			t.Errorf("target %q", got)
		}
	})
	t.Run("bad names", func(t *testing.T) {
		dir := openTestDir(t, t.TempDir())
		for _, name := range []string{"", ".", "..", "a/b"} {
			if err := dir.Remove(name); err == nil {
				t.Errorf("Remove(%q) succeeded", name)
			}
		}
	})
	t.Run("closed Dir", func(t *testing.T) {
		dir := openTestDir(t, t.TempDir())
		dir.Close()
		checkErr(t, dir.Remove("f"), fs.ErrClosed)
	})
	t.Run("wrapper: missing parents", func(t *testing.T) {
		d := t.TempDir()
		if err := Remove(d, "a/b/c.pid"); err != nil {
			t.Errorf("Remove under missing parents: %v", err)
		}
		if err := Remove(d+"/nope", "c.pid"); err != nil {
			t.Errorf("Remove under a missing root: %v", err)
		}
	})
	t.Run("wrapper: removes", func(t *testing.T) {
		d := t.TempDir()
		write(t, d+"/a/run/x.pid", "1", 0o600)
		if err := Remove(d, "a/run/x.pid"); err != nil {
			t.Fatal(err)
		}
		mustNotExist(t, d+"/a/run/x.pid")
	})
	t.Run("wrapper: symlinked parent", func(t *testing.T) {
		d := t.TempDir()
		write(t, d+"/etc/passwd", "x", 0o600)
		mkdir(t, d+"/h", 0o755)
		symlink(t, d+"/etc", d+"/h/run")
		checkErr(t, Remove(d+"/h", "run/passwd"), ErrSymlink, d+"/h/run is a symlink to "+d+"/etc")
		if got := content(t, d+"/etc/passwd"); got != "x" {
			t.Errorf("target %q", got)
		}
	})
}

func TestLstat(t *testing.T) {
	d := t.TempDir()
	write(t, d+"/f", "abc", 0o640)
	symlink(t, "f", d+"/l")
	dir := openTestDir(t, d)

	info, link, err := dir.Lstat("f")
	if err != nil || link || info.Size != 3 || info.Mode != 0o640 || info.UID != os.Getuid() {
		t.Errorf("Lstat(f) = %+v, %v, %v", info, link, err)
	}
	info, link, err = dir.Lstat("l")
	if err != nil || !link || info.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(l) = %+v, %v, %v", info, link, err)
	}
	_, _, err = dir.Lstat("nope")
	checkErr(t, err, fs.ErrNotExist, "lstat "+d+"/nope")
}

// ReadJudged reads below an open directory as nothing else may: no link at
// any component, nothing but a regular file, at most the limit.
func TestReadJudgedRefuses(t *testing.T) {
	d := t.TempDir()
	write(t, d+"/h/vault/run/vault.pid", "42\n", 0o644)
	write(t, d+"/h/big/run/big.pid", strings.Repeat("9", 65), 0o644)
	write(t, d+"/outside/run/scribe.pid", "7\n", 0o644)
	mkdir(t, d+"/h/scribe", 0o755)
	symlink(t, d+"/outside/run", d+"/h/scribe/run")
	mkdir(t, d+"/h/app/run", 0o755)
	symlink(t, d+"/h/vault/run/vault.pid", d+"/h/app/run/app.pid")
	mkdir(t, d+"/h/surface/run", 0o755)
	mkfifo(t, d+"/h/surface/run/surface.pid")
	mkdir(t, d+"/h/dir/run/dir.pid", 0o755)
	for _, tt := range []struct {
		rel  string
		want error
		msg  string
		data string
	}{
		{"vault/run/vault.pid", nil, "", "42\n"},
		{"big/run/big.pid", ErrTooLarge, "", ""},
		{"scribe/run/scribe.pid", ErrSymlink, d + "/h/scribe/run is a symlink to " + d + "/outside/run", ""},
		{"app/run/app.pid", ErrSymlink, d + "/h/app/run/app.pid is a symlink to ", ""},
		{"surface/run/surface.pid", ErrNotRegular, "named pipe", ""},
		{"dir/run/dir.pid", ErrNotRegular, "directory", ""},
		{"gone/run/gone.pid", fs.ErrNotExist, "", ""},
		{"vault/run/none.pid", fs.ErrNotExist, "", ""},
		{"../h/vault/run/vault.pid", errAny, "not a relative path", ""},
	} {
		t.Run(tt.rel, func(t *testing.T) {
			var data []byte
			var err error
			h, err := OpenDir(d+"/h", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			within(t, "ReadJudged", func() { data, _, _, err = h.ReadJudged(tt.rel, 64, os.Geteuid()) })
			if tt.msg != "" {
				checkErr(t, err, tt.want, tt.msg)
			} else {
				checkErr(t, err, tt.want)
			}
			if string(data) != tt.data {
				t.Errorf("data %q, want %q", data, tt.data)
			}
		})
	}
}
