//go:build linux || darwin

package spec

import (
	"io/fs"
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
