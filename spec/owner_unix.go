//go:build linux || darwin

package spec

import (
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

// fileUID returns the owner of a file os.Stat described.
func fileUID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// lookupUserName names uid from the user database ("" when unknown).
func lookupUserName(uid int) (string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", err
	}
	return u.Username, nil
}
