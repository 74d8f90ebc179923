// Package boxfs is the one place the reconciler opens files under a box's
// home (PARACHUTE_HOME) or a service manager's unit directory, so that the
// trust model can be audited in one file (boxfs.go). It never follows a link
// it was not told to trust, never blocks on a FIFO, never reads without a
// bound.
//
// The reconciler runs as root from cron on shared machines, inside
// directories that belong to another user, so every path it touches is
// treated as hostile until proved otherwise. The rules:
//
// R1 trust (CheckTrusted): a file the run trusts, and every directory on the
// way to it from "/", is owned by the box owner or root and is not writable
// by group or others, as sshd's StrictModes demands. A root-owned directory
// with the sticky bit (/tmp, mode 1777) is acceptable on the way, since
// nobody else can rename or remove what the owner put in it. A symlink on
// the way is acceptable when the link itself is owned by the owner or root;
// the walk then continues through its target, whose components are checked
// in turn.
//
// R2 bounded inputs (ReadFile): a file is opened with O_NONBLOCK and
// O_CLOEXEC; a final symlink is followed only when the link is owned by a
// uid the caller trusts (at most 8 of them in a row); anything but a regular
// file (FIFO, device, directory, socket) is an error at once, not a hang;
// and at most a given number of bytes is read.
//
// R7 writes never follow links (OpenDir and the Dir methods): every path
// written is reached from a root directory the caller chose, which is opened
// normally, by one openat with O_NOFOLLOW|O_DIRECTORY per component below
// it, so a symlink planted at any component below the root is refused with
// an error naming it. Files are replaced by rename from a temporary file
// created with O_EXCL|O_NOFOLLOW, and appended to only after O_NOFOLLOW and
// a check that the file is regular and has no other hard link.
//
// Errors name the path (and, for a link, the link and its target) and wrap
// fs.ErrNotExist, ErrNotRegular, ErrTooLarge, ErrSymlink or ErrHardLink, so
// callers branch with errors.Is.
package boxfs
