package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// User is an account that exists only inside one instance (AddUser writes
// it to the instance's private copies of /etc/passwd, /etc/group and
// /etc/shadow; the host's files are never touched).
type User struct {
	// Name is the login name.
	Name string
	// UID and GID are the numeric ids; the primary group has the user's name.
	UID, GID int
	// Home is the home directory, on the instance's private /home.
	Home string
}

// RuntimeDir is the user's XDG_RUNTIME_DIR inside the instance
// (/run/user/UID, created by user-runtime-dir@UID.service).
func (u User) RuntimeDir() string { return "/run/user/" + strconv.Itoa(u.UID) }

// Env is the environment CommandAs gives the user's programs: enough for
// `systemctl --user` and `loginctl` to find the user manager and the session
// bus.
func (u User) Env() []string {
	return []string{
		"PATH=" + defaultPath,
		"HOME=" + u.Home,
		"USER=" + u.Name,
		"LOGNAME=" + u.Name,
		"SHELL=/bin/sh",
		"LANG=C.UTF-8",
		"SYSTEMD_COLORS=0",
		"XDG_RUNTIME_DIR=" + u.RuntimeDir(),
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + u.RuntimeDir() + "/bus",
	}
}

// defaultPath is the PATH of every command run inside.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// userNameRE is the portable subset useradd accepts by default.
var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}$`)

// validUserName reports a problem with name, or nil.
func validUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("user name %q: want a lower-case letter or _ then up to 30 of [a-z0-9_-]", name)
	}
	return nil
}

// idRange is where AddUser picks ids: the usual range for regular users.
const (
	firstUserID = 1000
	lastUserID  = 59999
)

// freeID returns the lowest id in [firstUserID, lastUserID] that is used
// neither as a uid in passwd nor as a gid in group, so the new user's
// primary group can share its number. It also reports whether name is
// already a user or a group.
func freeID(passwd, group io.Reader, name string) (int, error) {
	used := map[int]bool{}
	for _, f := range []struct {
		what string
		r    io.Reader
	}{{"passwd", passwd}, {"group", group}} {
		sc := bufio.NewScanner(f.r)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fields := strings.Split(line, ":")
			if len(fields) < 3 {
				continue
			}
			if fields[0] == name {
				return 0, fmt.Errorf("add user %s: already in %s", name, f.what)
			}
			if id, err := strconv.Atoi(fields[2]); err == nil {
				used[id] = true
			}
		}
		if err := sc.Err(); err != nil {
			return 0, fmt.Errorf("read %s: %w", f.what, err)
		}
	}
	for id := firstUserID; id <= lastUserID; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, fmt.Errorf("add user %s: no free id in %d-%d", name, firstUserID, lastUserID)
}
