package boxfs

import (
	"errors"

	"golang.org/x/sys/unix"
)

// errNotLink: readLinkOwned found something other than a symlink (the path
// changed since the caller's lstat).
var errNotLink = errors.New("not a symlink")

// readLinkOwned returns the target of the symlink at path and the uid that
// owns the link, as one consistent pair: the link is opened itself (O_PATH|
// O_NOFOLLOW), and both the fstat and the readlinkat use that descriptor,
// so a link swapped in between cannot pair one link's owner with another's
// target.
func readLinkOwned(path string) (target string, uid int, err error) {
	fd, err := openat(unix.AT_FDCWD, path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", 0, err
	}
	if !isLink(&st) {
		return "", 0, errNotLink
	}
	target, err = readlinkat(fd, "")
	if err != nil {
		return "", 0, err
	}
	return target, int(st.Uid), nil
}
