package actuate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// OSFiles is Files on the real file system.
type OSFiles struct{}

var _ Files = OSFiles{}

// WriteFile implements Files: an atomic replace (temp file in the same
// directory, fsync, rename) that refuses a symlink at path and leaves an
// identical file alone, so a converged box's unit keeps its mtime.
func (OSFiles) WriteFile(path string, data []byte, perm os.FileMode) (bool, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return false, fmt.Errorf("write %s: it is a symlink to %s; refusing to write through a link parachute did not create", path, target)
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("write %s: not a regular file (%s)", path, fi.Mode().Type())
	case err == nil:
		if old, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(old, data) {
			return false, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, data, perm, renameio.WithStaticPermissions(perm)); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// Remove implements Files.
func (OSFiles) Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// MkdirAll implements Files.
func (OSFiles) MkdirAll(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}
