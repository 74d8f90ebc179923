//go:build unix && !linux

package boxfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// errNotLink: readLinkOwned found something other than a symlink (the path
// changed since the caller's lstat).
var errNotLink = errors.New("not a symlink")

// readLinkOwned returns the target of the symlink at path and the uid that
// owns the link, as one consistent pair. Without Linux's O_PATH there is no
// descriptor for the link, so it is lstat, readlink, lstat: a symlink's
// target never changes in place, so the same inode before and after means
// the target read is that link's. (Putting the same inode back after a
// swap needs write access to the link's directory, which R1 denies anyone
// but the owner and root.)
func readLinkOwned(path string) (target string, uid int, err error) {
	var before, after unix.Stat_t
	if err := lstat(path, &before); err != nil {
		return "", 0, err
	}
	if !isLink(&before) {
		return "", 0, errNotLink
	}
	target, err = readlinkat(unix.AT_FDCWD, path)
	if errors.Is(err, unix.EINVAL) {
		return "", 0, errNotLink
	}
	if err != nil {
		return "", 0, err
	}
	if err := lstat(path, &after); err != nil {
		return "", 0, err
	}
	if !isLink(&after) || after.Dev != before.Dev || after.Ino != before.Ino || after.Uid != before.Uid {
		return "", 0, fmt.Errorf("%s changed while its target was read", path)
	}
	return target, int(before.Uid), nil
}
