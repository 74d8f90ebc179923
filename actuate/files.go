package actuate

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parachute/reconcile/internal/boxfs"
)

// OSFiles is Files on the real file system, through boxfs: every path is
// reached from its root with openat and O_NOFOLLOW at each component, so a
// symlink planted below the root is refused, never followed.
type OSFiles struct{}

var _ Files = OSFiles{}

// dirMode is the mode of directories the reconciler creates (hub/logs,
// hub/run, ~/.config/systemd/user): the platform's usual one. They belong
// to the user the run acts as, who is the box's owner.
var dirMode = &boxfs.Mkdir{Perm: 0o755, UID: -1, GID: -1}

// rel returns path relative to root, refusing a path outside it.
func rel(root, path string) (string, error) {
	if root == "" || !filepath.IsAbs(root) {
		return "", fmt.Errorf("%s: no root directory to reach it from (%q)", path, root)
	}
	r, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(r) {
		return "", fmt.Errorf("%s is not below %s", path, root)
	}
	return r, nil
}

// WriteFile implements Files: an atomic replace (temp file in the same
// directory, fsync, rename) that leaves an identical file alone, so a
// converged box's unit keeps its mtime.
func (OSFiles) WriteFile(root, path string, data []byte, perm os.FileMode) (bool, error) {
	r, err := rel(root, path)
	if err != nil {
		return false, err
	}
	return boxfs.WriteFile(root, r, data, perm, dirMode, -1, -1)
}

// Remove implements Files.
func (OSFiles) Remove(root, path string) error {
	r, err := rel(root, path)
	if err != nil {
		return err
	}
	return boxfs.Remove(root, r)
}

// Touch implements Files.
func (OSFiles) Touch(root, path string, perm os.FileMode) error {
	f, err := openAppend(root, path, perm)
	if err != nil {
		return err
	}
	return f.Close()
}

// openAppend opens path, below root, for appending, creating it and any
// missing directories, through boxfs: no link is followed on the way.
func openAppend(root, path string, perm os.FileMode) (*os.File, error) {
	r, err := rel(root, path)
	if err != nil {
		return nil, err
	}
	d, err := boxfs.OpenDir(root, filepath.Dir(r), dirMode)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.OpenAppend(filepath.Base(r), perm, -1, -1)
}
