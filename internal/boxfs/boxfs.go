package boxfs

// Everything that decides whether a path is trusted, followed, read or
// written is in this file; link_linux.go and link_other.go only read a
// symlink's owner and target as one pair.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Info is what an open (or Dir.Lstat) saw of a file: it comes from fstat on
// the descriptor that was read, not from a separate stat of the path, so it
// describes exactly the bytes returned.
type Info struct {
	UID, GID int
	Mode     fs.FileMode // type and permission bits, as io/fs spells them
	Size     int64
	ModTime  time.Time
}

// Errors callers branch on with errors.Is. Every error returned by this
// package names the path it is about and wraps at most one of these (or
// fs.ErrNotExist, or the system's errno).
var (
	// ErrNotRegular: the path is a FIFO, a device, a directory or a socket
	// where a regular file was wanted. It is reported without blocking.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more bytes than the caller's limit.
	ErrTooLarge = errors.New("larger than the limit")
	// ErrSymlink: a symlink that is not trusted (ReadFile), or any symlink
	// below a write root (OpenDir and the Dir methods), or too long a chain
	// of trusted links. The error names the link and its target.
	ErrSymlink = errors.New("is a symlink")
	// ErrHardLink: Dir.OpenAppend found a file with more than one hard
	// link. Appending to it would also append to its other names, which may
	// be anywhere on the file system (a box owner can hard-link /etc/passwd
	// into their logs directory wherever protected_hardlinks is off, and
	// always on macOS).
	ErrHardLink = errors.New("has more than one hard link")
)

const (
	// maxHops is how many trusted final symlinks ReadFile follows in a row.
	maxHops = 8
	// maxWalkLinks bounds the symlinks CheckTrusted resolves in one path,
	// the kernel's own limit (Linux MAXSYMLINKS), so it accepts every path
	// the kernel would open.
	maxWalkLinks = 40
)

// testHookBeforeRename, when set (by tests only), runs in Dir.WriteFile
// after the temporary file is complete and before it is renamed over the
// name, to stand in for whatever another process may do in that window.
var testHookBeforeRename func()

// ReadFile opens path as R2 says and returns its content, at most max bytes.
//
// The file is opened with O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_NOCTTY|O_NOFOLLOW,
// after an lstat that refuses anything but a regular file before opening it
// (opening a device can have side effects); the fstat of the opened
// descriptor is what decides, and is what Info reports. A FIFO, device,
// directory or socket is ErrNotRegular at once. A file whose size exceeds
// max is ErrTooLarge without being read, and one that turns out longer than
// its size said (a /proc file, a file growing) is ErrTooLarge after reading
// max+1 bytes, never more.
//
// A final symlink is followed only when the link itself is owned by one of
// the uids in trustLinks (normally the box owner and 0), at most 8 links in
// a row; otherwise ReadFile returns ErrSymlink naming the link and its
// target, without opening the target. nil trustLinks follows no link.
// Symlinks in the directories on the way are followed as the kernel does:
// judging those is CheckTrusted's job (R1), not ReadFile's.
//
// A missing file returns an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadFile(path string, max int64, trustLinks []int) ([]byte, Info, error) {
	if max < 0 {
		return nil, Info{}, fmt.Errorf("read %s: negative limit %d", path, max)
	}
	cur := path
	for hops := 0; ; {
		shown := path
		if cur != path {
			shown = path + " -> " + cur
		}
		var st unix.Stat_t
		if err := lstat(cur, &st); err != nil {
			return nil, Info{}, fmt.Errorf("read %s: %w", shown, err)
		}
		if isLink(&st) {
			target, uid, err := readLinkOwned(cur)
			if errors.Is(err, errNotLink) {
				// Replaced since the lstat: look again, counting it as a hop
				// so that a path flipping forever cannot hold us here.
				if hops++; hops > maxHops {
					return nil, Info{}, fmt.Errorf("read %s: %s keeps changing", path, cur)
				}
				continue
			}
			if err != nil {
				return nil, Info{}, fmt.Errorf("read %s: %w", shown, err)
			}
			if !slices.Contains(trustLinks, uid) {
				return nil, Info{}, fmt.Errorf("read %s: %s %w to %s made by %s; %s",
					path, cur, ErrSymlink, target, uidName(uid), followedLinks(trustLinks))
			}
			if hops == maxHops {
				return nil, Info{}, fmt.Errorf("read %s: %s %w to %s after %d links already followed",
					path, cur, ErrSymlink, target, maxHops)
			}
			hops++
			cur = linkTarget(cur, target)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil, Info{}, fmt.Errorf("read %s: %w (%s)", shown, ErrNotRegular, typeName(uint32(st.Mode)))
		}
		fd, err := openat(unix.AT_FDCWD, cur, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NOFOLLOW, 0)
		if errors.Is(err, unix.ELOOP) {
			// Became a symlink since the lstat: judge it as one.
			if hops++; hops > maxHops {
				return nil, Info{}, fmt.Errorf("read %s: %s keeps changing", path, cur)
			}
			continue
		}
		if err != nil {
			return nil, Info{}, fmt.Errorf("read %s: %w", shown, err)
		}
		data, info, err := readOpen(fd, max)
		if err != nil {
			return nil, Info{}, fmt.Errorf("read %s: %w", shown, err)
		}
		return data, info, nil
	}
}

// readOpen reads the regular file open at fd (and closes fd): at most max
// bytes, else ErrTooLarge.
func readOpen(fd int, max int64) ([]byte, Info, error) {
	var st unix.Stat_t
	return readOpenTail(fd, max, false, &st)
}

// readOpenTail is readOpen; with tail, a larger file is not an error: its
// last max bytes are read (a file growing meanwhile gives at most max). st
// gets the descriptor's fstat, whatever the outcome once it is taken.
func readOpenTail(fd int, max int64, tail bool, st *unix.Stat_t) ([]byte, Info, error) {
	defer unix.Close(fd)
	if err := unix.Fstat(fd, st); err != nil {
		return nil, Info{}, err
	}
	info := infoOf(st)
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, Info{}, fmt.Errorf("%w (%s)", ErrNotRegular, typeName(uint32(st.Mode)))
	}
	if st.Size > max && !tail {
		return nil, Info{}, fmt.Errorf("%w of %d bytes (size %d)", ErrTooLarge, max, st.Size)
	}
	if tail && st.Size > max {
		if _, err := unix.Seek(fd, st.Size-max, io.SeekStart); err != nil {
			return nil, Info{}, err
		}
	}
	// O_NONBLOCK (set so that opening a FIFO never waits) is cleared: a
	// FUSE file system passes it to its server, which may then answer
	// EAGAIN.
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, Info{}, err
	}
	data, err := readUpTo(fd, min(st.Size, max), max)
	if err != nil {
		return nil, Info{}, err
	}
	if int64(len(data)) > max {
		if tail {
			return data[:max], info, nil
		}
		return nil, Info{}, fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	return data, info, nil
}

// readUpTo reads fd to its end, or to one byte past max (so that a file
// that grew beyond max since its fstat shows as too large), into one
// buffer sized for the expected size: the read of a pidfile or of a log's
// tail allocates once, where io.ReadAll would double its way up from 512
// bytes. The descriptor is read directly: an os.File would only add its
// bookkeeping.
func readUpTo(fd int, expect, max int64) ([]byte, error) {
	limit := max
	if limit < math.MaxInt64 {
		limit++
	}
	// A file whose size says nothing (0 on /proc, some FUSE) starts at 512.
	size := expect + 1
	if expect == 0 {
		size = 512
	}
	buf := make([]byte, 0, min(size, limit))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf))+512, limit-int64(len(buf)))))
		}
		room := buf[len(buf):min(int64(cap(buf)), limit)]
		n, err := fdReader(fd).Read(room)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// linkTarget is where the link at path points: target itself when absolute,
// else target in path's directory. It concatenates rather than joins: a
// lexical filepath.Clean of "dir/../x" would be wrong when dir is itself a
// link, so ".." is left to the kernel.
func linkTarget(path, target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return target
	}
	return path[:i+1] + target
}

// followedLinks says which link owners ReadFile follows, for its refusal.
func followedLinks(trust []int) string {
	if len(trust) == 0 {
		return "links are not followed here"
	}
	var names []string
	for i, uid := range trust {
		if !slices.Contains(trust[:i], uid) { // the owner may be root
			names = append(names, uidName(uid))
		}
	}
	return "only links made by " + strings.Join(names, " or ") + " are followed"
}

// Untrusted describes why a path is not trusted under R1. It is the error
// CheckTrusted returns.
type Untrusted struct {
	// Path is the component that failed: the file itself, a directory on
	// the way, or a symlink on the way (as the walk reached it, links
	// before it resolved).
	Path string
	// Why completes "<Path> is ...": "owned by uid 1001 (bob), not the box
	// owner (uid 0) or root", "writable by group (mode 0775)", "writable by
	// others (mode 0777)", "a symlink owned by uid 1001 (bob), ...".
	Why string
}

// Error reads "<Path> is <Why>".
func (u *Untrusted) Error() string { return u.Path + " is " + u.Why }

// CheckTrusted checks path and every directory from "/" down to it under R1
// for the box owner uid: each must be owned by owner or root and not
// writable by group or others. A directory owned by root with the sticky
// bit (/tmp) is accepted on the way, but not as path itself. Symlinks, on
// the way or final, are resolved: the link must be owned by owner or root,
// and then every component of its target is checked the same way (up to 40
// links, as the kernel allows). ".." is resolved physically, after the link
// before it, as the kernel does. A relative path is taken from the current
// directory.
//
// It returns nil, an *Untrusted naming the first component that failed, or
// another error; a missing component returns an error satisfying
// errors.Is(err, fs.ErrNotExist). A path trusted by this check cannot be
// changed by anyone but owner and root, so the answer stays true after it
// is given.
func CheckTrusted(path string, owner int) error {
	return checkTrusted(path, owner, false)
}

// CheckTrustedWay is CheckTrusted for a directory the caller reads files
// below with Dir.ReadJudged: path is judged as a directory on the way to
// them, where a root-owned sticky directory passes, as CheckTrusted of a
// file below it judges it.
func CheckTrustedWay(path string, owner int) error {
	return checkTrusted(path, owner, true)
}

// checkTrusted is CheckTrusted; with onWay, path itself is judged as a
// component on the way.
func checkTrusted(path string, owner int, onWay bool) error {
	abs := path
	if !strings.HasPrefix(abs, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		abs = wd + "/" + path // not filepath.Join: no lexical ".."
	}
	// cur is the physical, link-free directory reached so far; rest is
	// what remains to walk, a link's target spliced in front of it.
	cur := "/"
	rest := strings.Split(abs, "/")
	var st unix.Stat_t
	if err := lstat(cur, &st); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if why := judge(&st, owner, true); why != "" {
		return &Untrusted{Path: cur, Why: why}
	}
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur) // cur holds no link: lexical is physical
			continue
		}
		next := filepath.Join(cur, c)
		if err := lstat(next, &st); err != nil {
			return fmt.Errorf("check %s: %s: %w", path, next, err)
		}
		if why := judge(&st, owner, true); why != "" {
			return &Untrusted{Path: next, Why: why}
		}
		if isLink(&st) {
			if links++; links > maxWalkLinks {
				return fmt.Errorf("check %s: %s: %w", path, next, unix.ELOOP)
			}
			target, err := readlinkat(unix.AT_FDCWD, next)
			if err != nil {
				return fmt.Errorf("check %s: %s: %w", path, next, err)
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && more(rest) {
			return fmt.Errorf("check %s: %s: %w", path, next, unix.ENOTDIR)
		}
		cur = next
	}
	// cur is now the object itself, link-free. It was judged as a
	// component on the way, where a root sticky directory passes; judge it
	// again as the final one, where it does not.
	if onWay {
		return nil
	}
	if err := lstat(cur, &st); err != nil {
		return fmt.Errorf("check %s: %s: %w", path, cur, err)
	}
	if why := judge(&st, owner, false); why != "" {
		return &Untrusted{Path: cur, Why: why}
	}
	return nil
}

// more reports whether rest still names a component to walk.
func more(rest []string) bool {
	for _, c := range rest {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}

// judge applies R1 to one component; "" means it passes. onWay admits a
// root-owned sticky directory. A symlink's own mode bits mean nothing
// (they are 0777 on Linux), so only its owner is judged.
func judge(st *unix.Stat_t, owner int, onWay bool) string {
	uid := int(st.Uid)
	if uid != owner && uid != 0 {
		why := fmt.Sprintf("owned by %s, not the box owner (uid %d) or root", uidName(uid), owner)
		if isLink(st) {
			why = "a symlink " + why
		}
		return why
	}
	if isLink(st) {
		return ""
	}
	perm := uint32(st.Mode) & 0o7777
	if onWay && uid == 0 && perm&unix.S_ISVTX != 0 && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return ""
	}
	if perm&0o002 != 0 {
		return fmt.Sprintf("writable by others (mode %04o)", perm)
	}
	if perm&0o020 != 0 {
		return fmt.Sprintf("writable by group (mode %04o)", perm)
	}
	return ""
}

// FirstLink returns the first component of rel (a local path below root)
// that is a symlink, as root joined with the components up to it, with the
// link's target; link is "" when there is none. A missing component, or a
// non-directory before the last component, ends the walk without an error
// (there is nothing below it to be reached through a link). The walk is
// the one OpenDir makes (openat with O_NOFOLLOW per component), so what it
// reports is what OpenDir would refuse; the observer uses it to report a
// planted link before anything is written.
func FirstLink(root, rel string) (link, target string, err error) {
	comps, err := splitRel(rel)
	if err != nil {
		return "", "", fmt.Errorf("find links under %s: %w", root, err)
	}
	base := root
	if !filepath.IsAbs(base) {
		if base, err = filepath.Abs(base); err != nil {
			return "", "", fmt.Errorf("find links under %s: %w", root, err)
		}
	}
	fd, err := openRoot(root)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("find links under %s: %w", root, err)
	}
	defer func() { unix.Close(fd) }()
	p := base
	for i, c := range comps {
		p = filepath.Join(p, c)
		var st unix.Stat_t
		err := fstatat(fd, c, &st)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return "", "", nil
		}
		if err != nil {
			return "", "", fmt.Errorf("find links under %s: %s: %w", root, p, err)
		}
		if isLink(&st) {
			t, err := readlinkat(fd, c)
			if err != nil {
				return "", "", fmt.Errorf("find links under %s: %s: %w", root, p, err)
			}
			return p, t, nil
		}
		if i == len(comps)-1 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", "", nil
		}
		next, err := openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			// Changed since the fstatat: report a link that is there now.
			if fstatat(fd, c, &st) == nil && isLink(&st) {
				t, err := readlinkat(fd, c)
				if err != nil {
					return "", "", fmt.Errorf("find links under %s: %s: %w", root, p, err)
				}
				return p, t, nil
			}
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return "", "", nil
			}
			return "", "", fmt.Errorf("find links under %s: %s: %w", root, p, err)
		}
		unix.Close(fd)
		fd = next
	}
	return "", "", nil
}

// Dir is a directory reached under R7: an open descriptor, and the path it
// was reached by (root joined with rel) for messages. Its methods operate
// on single names in it, never following a link, so what they touch is in
// this very directory whatever happens to the path later. A Dir must be
// closed; it is not safe for use by several goroutines while one closes it.
type Dir struct {
	fd   int
	path string
}

// Mkdir describes the directories OpenDir may create. Perm is their mode,
// set exactly (the umask does not apply): permission bits, and setuid,
// setgid and sticky spelled either as io/fs does (fs.ModeSetgid) or in
// octal (0o2000), which os.Chmod would drop but boxfs honours. Its
// permission bits must not be 0, which catches a zero Mkdir{}. UID and GID are their owner and group, -1 to leave what
// mkdir gave (the caller's). Note that a zero UID or GID means root.
type Mkdir struct {
	Perm     fs.FileMode
	UID, GID int
}

// OpenDir opens root, following links (where the root points is the
// caller's choice), then each component of rel with openat and
// O_NOFOLLOW|O_DIRECTORY, so a symlink at any component below root is
// ErrSymlink, naming the link and its target, dangling or not. A component
// that is not a directory is an error wrapping ENOTDIR.
//
// A missing component is created when mk != nil: mkdirat, then (on the
// opened directory) fchown to mk.UID/mk.GID when either is >= 0, then
// fchmod to mk.Perm. Directories that already exist are left as they are,
// and root itself is never created. With mk == nil a missing component (or
// root) is an error satisfying errors.Is(err, fs.ErrNotExist).
//
// rel is "" or "." for root itself, else a local path (filepath.IsLocal):
// an absolute rel or one that climbs with ".." is an error. rel is cleaned
// lexically first, so "a/../b" means "b".
func OpenDir(root, rel string, mk *Mkdir) (*Dir, error) {
	d, err := openDir(root, rel, mk)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", shownPath(root, rel), err)
	}
	return d, nil
}

// openDir is OpenDir with errors that do not repeat the path opened, for
// callers that wrap them in their own ("write <file>: ...").
func openDir(root, rel string, mk *Mkdir) (*Dir, error) {
	comps, err := splitRel(rel)
	if err != nil {
		return nil, err
	}
	if mk != nil && mk.Perm.Perm() == 0 {
		return nil, errors.New("directories to create have mode 0")
	}
	fd, err := openRoot(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", root, err)
	}
	fd, p, err := descend(fd, true, filepath.Clean(root), comps, mk, nil)
	if err != nil {
		return nil, err
	}
	return &Dir{fd: fd, path: p}, nil
}

// descend opens comps one at a time below fd, the directory at p, with
// stepDir (no link followed; missing ones made when mk says), and calls
// visit with each directory it opens. It closes every descriptor it leaves
// behind, fd too when own, and returns the last one opened (fd itself for
// no comps) with its path.
func descend(fd int, own bool, p string, comps []string, mk *Mkdir, visit func(fd int, p string) error) (int, string, error) {
	for _, c := range comps {
		next := filepath.Join(p, c)
		nfd, err := stepDir(fd, c, next, mk)
		if own {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", err
		}
		fd, p, own = nfd, next, true
		if visit != nil {
			if err := visit(fd, p); err != nil {
				unix.Close(fd)
				return -1, "", err
			}
		}
	}
	return fd, p, nil
}

// openRoot opens a write root, following links: the one place in the
// write path that does.
func openRoot(root string) (int, error) {
	if root == "" {
		return -1, unix.ENOENT
	}
	return openat(unix.AT_FDCWD, root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// stepDir opens the directory name in dirfd without following a link,
// creating it as mk says when it is missing and mk != nil. p is its path,
// for messages.
func stepDir(dirfd int, name, p string, mk *Mkdir) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := openat(dirfd, name, flags, 0)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) || mk == nil {
		return -1, refusal(dirfd, name, p, err)
	}
	created := true
	if err := unix.Mkdirat(dirfd, name, uint32(mk.Perm.Perm())); errors.Is(err, unix.EEXIST) {
		created = false // made by someone else meanwhile: open it as found
	} else if err != nil {
		return -1, fmt.Errorf("mkdir %s: %w", p, err)
	}
	if fd, err = openat(dirfd, name, flags, 0); err != nil {
		return -1, refusal(dirfd, name, p, err)
	}
	if !created {
		return fd, nil
	}
	// fchown before fchmod: the mode is then never wider than mkdir's
	// (Perm less the umask) while the owner is not yet the final one, and
	// chown cannot clear a setgid bit set after it.
	if mk.UID >= 0 || mk.GID >= 0 {
		if err := unix.Fchown(fd, mk.UID, mk.GID); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("chown %s to %d:%d: %w", p, mk.UID, mk.GID, err)
		}
	}
	if err := unix.Fchmod(fd, unixMode(mk.Perm)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("chmod %s: %w", p, err)
	}
	return fd, nil
}

// refusal explains why opening name in dirfd with O_NOFOLLOW failed with
// err: a symlink (ErrSymlink, with its target), something that is not a
// directory where one was wanted (ENOTDIR), or err itself.
func refusal(dirfd int, name, p string, err error) error {
	var st unix.Stat_t
	if serr := fstatat(dirfd, name, &st); serr == nil {
		if isLink(&st) {
			return linkRefusal(dirfd, name, p)
		}
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("%s: %w (%s)", p, unix.ENOTDIR, typeName(uint32(st.Mode)))
		}
	}
	return fmt.Errorf("%s: %w", p, err)
}

// linkRefusal is the ErrSymlink error for the link name in dirfd.
func linkRefusal(dirfd int, name, p string) error {
	target, err := readlinkat(dirfd, name)
	if err != nil {
		target = "an unreadable target"
	}
	return fmt.Errorf("%s %w to %s: refusing to go through a link parachute did not create", p, ErrSymlink, target)
}

// Close closes the directory. Closing it again does nothing.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil {
		return fmt.Errorf("close %s: %w", d.path, err)
	}
	return nil
}

// Path is the path the directory was reached by, for messages. The
// directory may have been moved since; the Dir still refers to it.
func (d *Dir) Path() string { return d.path }

// join is the path of name in d, for messages.
func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

// valid checks that d is open and name is a single path element.
func (d *Dir) valid(name string) error {
	if d.fd < 0 {
		return fs.ErrClosed
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%q is not a single file name", name)
	}
	return nil
}

// lookPlain fstats name in d without following it: ErrSymlink (naming its
// target) for a link, ErrNotRegular for anything but a regular file, the
// fstatat error (ENOENT when missing), or nil with st filled. Looking
// before opening matters: opening a FIFO or a device has effects of its
// own; the fstat of the opened descriptor is what finally decides.
func (d *Dir) lookPlain(name, p string, st *unix.Stat_t) error {
	if err := fstatat(d.fd, name, st); err != nil {
		return err
	}
	if isLink(st) {
		return linkRefusal(d.fd, name, p)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%w (%s)", ErrNotRegular, typeName(uint32(st.Mode)))
	}
	return nil
}

// WriteFile atomically replaces name in d with data, mode perm (spelled as
// for Mkdir.Perm), and owner uid:gid when either is >= 0 (-1 leaves the
// writer's).
//
// If name is a symlink (dangling or not) it is ErrSymlink, and if it is not
// a regular file ErrNotRegular; nothing is written. If it is a regular file
// with identical content, mode (perm's permission, setuid, setgid and
// sticky bits) and, where asked, owner, WriteFile returns (false, nil) and
// touches nothing, so its mtime is kept. Otherwise it creates
// ".<name>.tmp-<random>" in d with O_CREAT|O_EXCL|O_NOFOLLOW, writes data,
// fchowns, fchmods to exactly perm (no umask), fsyncs, renames it over
// name (rename replaces whatever name is by then, even a link planted
// meanwhile, and never writes through it), fsyncs d and returns (true,
// nil). On any error before the rename the temporary file is removed. If
// only the final fsync of d fails, name has been replaced: WriteFile
// returns true with the error.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode, uid, gid int) (changed bool, err error) {
	p := d.join(name)
	if err := d.valid(name); err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	same, err := d.same(name, p, data, perm, uid, gid)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	if same {
		return false, nil
	}
	if err := d.replace(name, data, perm, uid, gid); err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	if err := unix.Fsync(d.fd); err != nil {
		return true, fmt.Errorf("write %s: sync %s: %w", p, d.path, err)
	}
	return true, nil
}

// same reports whether name already is what WriteFile would make it, and
// refuses a link or a non-regular file. A file it cannot read is not the
// same (it will be replaced, which needs only the directory).
func (d *Dir) same(name, p string, data []byte, perm fs.FileMode, uid, gid int) (bool, error) {
	var st unix.Stat_t
	err := d.lookPlain(name, p, &st)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !sameMeta(&st, int64(len(data)), perm, uid, gid) {
		return false, nil
	}
	fd, err := openat(d.fd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return false, nil
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || !sameMeta(&st, int64(len(data)), perm, uid, gid) {
		return false, nil
	}
	have := make([]byte, len(data)+1)
	n, err := io.ReadFull(fdReader(fd), have)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, nil
	}
	return bytes.Equal(have[:n], data), nil
}

// sameMeta compares what fstat says with what WriteFile would make.
func sameMeta(st *unix.Stat_t, size int64, perm fs.FileMode, uid, gid int) bool {
	return st.Size == size &&
		uint32(st.Mode)&0o7777 == unixMode(perm) &&
		(uid < 0 || int(st.Uid) == uid) &&
		(gid < 0 || int(st.Gid) == gid)
}

// replace writes data to a new temporary file in d and renames it over
// name, removing the temporary file on any error.
func (d *Dir) replace(name string, data []byte, perm fs.FileMode, uid, gid int) error {
	tmp := "." + name + ".tmp-" + randomSuffix()
	fd, err := openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", d.join(tmp), err)
	}
	f := os.NewFile(uintptr(fd), d.join(tmp))
	err = func() error {
		if _, err := f.Write(data); err != nil {
			return err
		}
		if uid >= 0 || gid >= 0 {
			if err := f.Chown(uid, gid); err != nil {
				return err
			}
		}
		if err := unix.Fchmod(fd, unixMode(perm)); err != nil {
			return fmt.Errorf("chmod %s: %w", f.Name(), err)
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && testHookBeforeRename != nil {
		testHookBeforeRename()
	}
	if err == nil {
		if err = unix.Renameat(d.fd, tmp, d.fd, name); err != nil {
			err = fmt.Errorf("rename %s over %s: %w", d.join(tmp), name, err)
		}
	}
	if err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return err
	}
	return nil
}

// OpenAppend opens name in d for appending, creating it when missing with
// mode exactly perm (spelled as for Mkdir.Perm) and, when uid or gid is >= 0, that owner; an existing
// file keeps its mode and owner. The flags are O_WRONLY|O_APPEND|O_NOFOLLOW
// |O_NONBLOCK|O_CLOEXEC|O_NOCTTY, with O_CREAT|O_EXCL first to know whether
// the file was created; O_NONBLOCK is cleared once the file is known to be
// regular.
//
// A symlink, dangling or not, is ErrSymlink and nothing is created through
// it. Anything but a regular file is ErrNotRegular, reported at once (a
// FIFO is refused, not waited on), and a file with more than one hard link
// is ErrHardLink. The returned file is the caller's to close.
func (d *Dir) OpenAppend(name string, perm fs.FileMode, uid, gid int) (*os.File, error) {
	p := d.join(name)
	if err := d.valid(name); err != nil {
		return nil, fmt.Errorf("append to %s: %w", p, err)
	}
	f, err := d.openAppend(name, p, perm, uid, gid)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", p, err)
	}
	return f, nil
}

func (d *Dir) openAppend(name, p string, perm fs.FileMode, uid, gid int) (*os.File, error) {
	var st unix.Stat_t
	if err := d.lookPlain(name, p, &st); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, err
	}
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	created := true
	fd, err := openat(d.fd, name, flags|unix.O_CREAT|unix.O_EXCL, uint32(perm.Perm()))
	if errors.Is(err, unix.EEXIST) {
		// It exists (O_EXCL also fails on a dangling link, which the
		// O_NOFOLLOW open below then refuses).
		created = false
		fd, err = openat(d.fd, name, flags, 0)
	}
	if err != nil {
		// ELOOP: a link. ENXIO: a FIFO without a reader, or a socket.
		if perr := d.lookPlain(name, p, &st); perr != nil && !errors.Is(perr, unix.ENOENT) {
			return nil, perr
		}
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		unix.Close(fd)
		if created {
			unix.Unlinkat(d.fd, name, 0) // do not leave a file with the wrong owner
		}
		return nil, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		created = false // not ours to remove
		return fail(fmt.Errorf("%w (%s)", ErrNotRegular, typeName(uint32(st.Mode))))
	}
	if st.Nlink > 1 {
		created = false
		return fail(fmt.Errorf("%s %w (%d): refusing to append to a file that has other names", p, ErrHardLink, st.Nlink))
	}
	if created {
		if uid >= 0 || gid >= 0 {
			if err := unix.Fchown(fd, uid, gid); err != nil {
				return fail(fmt.Errorf("chown to %d:%d: %w", uid, gid, err))
			}
		}
		if err := unix.Fchmod(fd, unixMode(perm)); err != nil {
			return fail(fmt.Errorf("chmod: %w", err))
		}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return fail(err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// Remove unlinks name in d. A missing name is not an error; a directory is
// (wrapping EISDIR). A symlink is removed itself, never its target.
func (d *Dir) Remove(name string) error {
	p := d.join(name)
	if err := d.valid(name); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	var st unix.Stat_t
	err := fstatat(d.fd, name, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("remove %s: %w", p, unix.EISDIR)
	}
	// Unlinking a directory put there since the fstatat fails too (EISDIR
	// on Linux, EPERM on macOS): unlinkat without AT_REMOVEDIR never
	// removes one.
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// Lstat describes name in d without following it (fstatat with
// AT_SYMLINK_NOFOLLOW), and reports whether it is a symlink. A missing name
// is an error satisfying errors.Is(err, fs.ErrNotExist).
func (d *Dir) Lstat(name string) (Info, bool, error) {
	p := d.join(name)
	if err := d.valid(name); err != nil {
		return Info{}, false, fmt.Errorf("lstat %s: %w", p, err)
	}
	var st unix.Stat_t
	if err := fstatat(d.fd, name, &st); err != nil {
		return Info{}, false, fmt.Errorf("lstat %s: %w", p, err)
	}
	return infoOf(&st), isLink(&st), nil
}

// ReadFile reads name in d as the package's ReadFile reads a path, but
// without following any link: a symlink at name is ErrSymlink, a FIFO, a
// device or a directory is ErrNotRegular before anything is opened, and at
// most max bytes are read (else ErrTooLarge).
func (d *Dir) ReadFile(name string, max int64) ([]byte, Info, error) {
	return d.readFile(name, max, false)
}

// ReadJudged reads rel, a local path below d — no link followed at any
// component (openat with O_NOFOLLOW, one at a time), a bounded read of a
// regular file (Dir.ReadFile's refusals) — and judges what it opened as CheckTrusted judges a path, for the
// box owner uid: each directory below d on the way, then the file, by the
// fstat of the very descriptors it went through, so the verdict below d is
// about the bytes returned, not about a path walked again after the read.
// d itself and what is above it are the caller's to judge, once, by path
// (CheckTrustedWay): a trusted chain there can be changed only by the
// owner or root.
//
// untrusted is nil or names the first component that failed; the file is
// read either way, and err is only for what could not be read.
func (d *Dir) ReadJudged(rel string, max int64, owner int) (data []byte, info Info, untrusted *Untrusted, err error) {
	p := d.join(rel)
	comps, err := splitRel(rel)
	if err == nil && len(comps) == 0 {
		err = fmt.Errorf("%q names no file", rel)
	}
	if err != nil {
		return nil, Info{}, nil, fmt.Errorf("read %s: %w", p, err)
	}
	if d.fd < 0 {
		return nil, Info{}, nil, fmt.Errorf("read %s: %w", p, fs.ErrClosed)
	}
	var st unix.Stat_t
	fd, dir, err := descend(d.fd, false, d.path, comps[:len(comps)-1], nil, func(fd int, next string) error {
		if untrusted != nil {
			return nil
		}
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("%s: %w", next, err)
		}
		if why := judge(&st, owner, true); why != "" {
			untrusted = &Untrusted{Path: next, Why: why}
		}
		return nil
	})
	if err != nil {
		return nil, Info{}, nil, fmt.Errorf("read %s: %w", p, err)
	}
	sub := &Dir{fd: fd, path: dir}
	if fd != d.fd {
		defer sub.Close()
	}
	data, info, err = sub.readFileStat(comps[len(comps)-1], max, false, &st)
	if err != nil {
		return nil, Info{}, nil, err
	}
	if why := judge(&st, owner, false); why != "" && untrusted == nil {
		untrusted = &Untrusted{Path: p, Why: why}
	}
	return data, info, untrusted, nil
}

// readFile is ReadFile; with tail, a file larger than max is not an error
// and its last max bytes are returned.
func (d *Dir) readFile(name string, max int64, tail bool) ([]byte, Info, error) {
	var st unix.Stat_t
	return d.readFileStat(name, max, tail, &st)
}

// readFileStat is readFile; st gets the fstat of the descriptor read.
func (d *Dir) readFileStat(name string, max int64, tail bool, st *unix.Stat_t) ([]byte, Info, error) {
	p := d.join(name)
	if err := d.valid(name); err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", p, err)
	}
	if max < 0 {
		return nil, Info{}, fmt.Errorf("read %s: negative limit %d", p, max)
	}
	if err := d.lookPlain(name, p, st); err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", p, err)
	}
	fd, err := openat(d.fd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", p, refusal(d.fd, name, p, err))
	}
	data, info, err := readOpenTail(fd, max, tail, st)
	if err != nil {
		return nil, Info{}, fmt.Errorf("read %s: %w", p, err)
	}
	return data, info, nil
}

// ReadTailUnder is OpenDir(root, filepath.Dir(rel), nil), then the last
// max bytes of filepath.Base(rel) (a log's tail; a larger file is not an
// error), then Close: no link below root is followed, nothing but a
// regular file is opened, a missing directory or file satisfies
// errors.Is(err, fs.ErrNotExist).
func ReadTailUnder(root, rel string, max int64) ([]byte, error) {
	p := shownPath(root, rel)
	dir, name, err := splitName(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	d, err := openDir(root, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer d.Close()
	data, _, err := d.readFile(name, max, true)
	return data, err
}

// WriteFile is OpenDir(root, filepath.Dir(rel), mk), then Dir.WriteFile of
// filepath.Base(rel), then Close. rel must be a local path naming a file.
func WriteFile(root, rel string, data []byte, perm fs.FileMode, mk *Mkdir, uid, gid int) (bool, error) {
	p := shownPath(root, rel)
	dir, name, err := splitName(rel)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	d, err := openDir(root, dir, mk)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	defer d.Close()
	return d.WriteFile(name, data, perm, uid, gid)
}

// Remove is OpenDir(root, filepath.Dir(rel), nil), then Dir.Remove of
// filepath.Base(rel), then Close. A missing root or parent directory is
// not an error: there is nothing to remove. A link on the way is
// ErrSymlink, as for a write.
func Remove(root, rel string) error {
	p := shownPath(root, rel)
	dir, name, err := splitName(rel)
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	d, err := openDir(root, dir, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	defer d.Close()
	return d.Remove(name)
}

// shownPath is root joined with rel for messages, or root alone when rel
// is not local (joining would clean "../x" into a path that was not asked).
func shownPath(root, rel string) string {
	if rel != "" && !filepath.IsLocal(rel) {
		return root
	}
	return filepath.Join(root, rel)
}

// splitRel validates rel ("" or "." for the root itself, else local) and
// returns its components, cleaned.
func splitRel(rel string) ([]string, error) {
	if rel == "" || rel == "." {
		return nil, nil
	}
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%q is not a relative path below the root", rel)
	}
	c := filepath.Clean(rel)
	if c == "." {
		return nil, nil
	}
	return strings.Split(c, "/"), nil
}

// splitName splits rel, which must name a file below the root, into its
// directory and base name.
func splitName(rel string) (dir, name string, err error) {
	if _, err := splitRel(rel); err != nil {
		return "", "", err
	}
	c := filepath.Clean(rel)
	if rel == "" || c == "." {
		return "", "", fmt.Errorf("%q names no file", rel)
	}
	return filepath.Dir(c), filepath.Base(c), nil
}

// openat is unix.Openat retried on EINTR (which the runtime's preemption
// signals can cause).
func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

func lstat(path string, st *unix.Stat_t) error {
	for {
		err := unix.Lstat(path, st)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// fstatat never follows a final link.
func fstatat(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// readlinkat reads the target of the link name in dirfd (AT_FDCWD for a
// path); an empty name reads the link dirfd itself is (Linux O_PATH).
func readlinkat(dirfd int, name string) (string, error) {
	for n := 256; n <= 1<<16; n *= 2 {
		buf := make([]byte, n)
		k, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if k < n {
			return string(buf[:k]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}

// fdReader reads a descriptor it does not own.
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(b) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func isLink(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFLNK }

func infoOf(st *unix.Stat_t) Info {
	sec, nsec := st.Mtim.Unix()
	return Info{
		UID:     int(st.Uid),
		GID:     int(st.Gid),
		Mode:    fileMode(uint32(st.Mode)),
		Size:    st.Size,
		ModTime: time.Unix(sec, nsec),
	}
}

// fileMode converts a stat mode to io/fs's spelling, as os.Stat does.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	for _, sb := range specialBits {
		if m&sb.unix != 0 {
			mode |= sb.fs
		}
	}
	return mode
}

// specialBits pairs the setuid, setgid and sticky bits of a stat mode with
// io/fs's spelling of them, for both directions of the conversion.
var specialBits = []struct {
	unix uint32
	fs   fs.FileMode
}{{unix.S_ISUID, fs.ModeSetuid}, {unix.S_ISGID, fs.ModeSetgid}, {unix.S_ISVTX, fs.ModeSticky}}

// unixMode converts permission and setuid/setgid/sticky bits to a stat
// mode; other bits of m are ignored. The special bits may be spelled as
// io/fs does (fs.ModeSetgid) or as octal (0o2000): the octal bits are
// unused in an fs.FileMode, and os.Chmod would silently drop them.
func unixMode(m fs.FileMode) uint32 {
	p := uint32(m) & 0o7777
	for _, sb := range specialBits {
		if m&sb.fs != 0 {
			p |= sb.unix
		}
	}
	return p
}

// typeName names a file type for messages: "named pipe", "directory", ...
func typeName(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFREG:
		return "regular file"
	}
	return fmt.Sprintf("file type %#o", m&unix.S_IFMT)
}

// uidName is "uid 1001 (bob)", or "uid 1001" when the user is unknown.
func uidName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// randomSuffix names a temporary file nobody can predict: math/rand/v2's
// generator is ChaCha8, seeded per process by the kernel (as os.CreateTemp's
// names are). A name guessed anyway only makes the O_EXCL create fail, and
// the write is tried again on the next run. crypto/rand would link some
// fifteen packages whose initialisation every run pays.
func randomSuffix() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
