package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestReview2LockNeverCreatesThroughSymlink pins a defect in lock (cli.go):
// flock.New opens <home>/.reconcile.lock with O_CREATE and follows a
// symlink, so whoever can write PARACHUTE_HOME can make the reconciler
// create a file anywhere it may write. Run as root for a box whose home a
// user owns (a system unit, --home /home/op/.parachute, or the boot unit),
// a planted `.reconcile.lock -> /etc/nologin` creates /etc/nologin and locks
// every non-root user out. README: "It never writes through a symlink it did
// not create". The lock must be opened with O_NOFOLLOW (and refuse a link).
func TestReview2LockNeverCreatesThroughSymlink(t *testing.T) {
	home := t.TempDir()
	elsewhere := t.TempDir()
	target := filepath.Join(elsewhere, "nologin")
	if err := os.Symlink(target, filepath.Join(home, ".reconcile.lock")); err != nil {
		t.Fatal(err)
	}
	unlock, code := lock(context.Background(), home, 0, io.Discard)
	if unlock != nil {
		defer unlock()
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock followed the planted symlink and created %s (exit code %d, err %v)", target, code, err)
	}
}

// TestReview2ObserveJSONHasSchema pins a contract gap: docs/design.md says
// "--output json prints one JSON document … with a `schema` version field",
// and docs/json.md is headed `schema: "parachute.reconcile/v1"`, but
// `parachute observe --output json` (runObserve → writeJSON(snap)) prints the
// bare Snapshot: no schema field, so a consumer cannot tell an observe
// document's version (reconcile's Document has one).
func TestReview2ObserveJSONHasSchema(t *testing.T) {
	home := t.TempDir()
	// A port nothing listens on: the health probe stays on loopback and finds nobody.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("PARACHUTE_HOME", home)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"observe", "--home", home, "--port", strconv.Itoa(port), "--output", "json"}, &out, &errb)
	if code != ExitConverged {
		t.Fatalf("observe exited %d: %s", code, errb.String())
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("observe output is not one JSON object: %v\n%s", err, out.String())
	}
	if _, ok := doc["schema"]; !ok {
		t.Errorf("observe --output json has no \"schema\" field (keys: %v)", keys(doc))
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReview2ArgvStringEscapesControlCharacters pins a defect in argvString
// (render.go): only space, tab, newline, quotes, '\', '$' and '`' trigger
// quoting, so a squatter's argv carrying a carriage return or an ANSI
// escape sequence reaches the operator's terminal raw in the blocker line
// ("pid …, user …, port …: <argv>") and in `parachute observe`. Any local
// user picks their own argv: "\r" plus text overwrites the line, ESC[2K
// erases it, so a blocker can be made to read as something harmless. The
// comment promises "so the line can be pasted"; control bytes must be
// quoted (strconv.Quote does it).
func TestReview2ArgvStringEscapesControlCharacters(t *testing.T) {
	for _, argv := range [][]string{
		{"/usr/bin/evil", "x\r✓converged"},
		{"/usr/bin/evil\x1b[2K"},
		{"/usr/bin/evil", "\x07\x08"},
	} {
		s := argvString(argv)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == 0x7f {
				t.Errorf("argvString(%q) = %q: raw control byte %#x reaches the terminal", argv, s, c)
				break
			}
		}
	}
}

// TestReview2AbsentRunDoesNotCreateHome pins a defect in lock (cli.go):
// every applying run does os.MkdirAll(home, 0o755) to hold
// <home>/.reconcile.lock, before it has observed anything. So
// `parachute reconcile --desired absent` on a box that has no
// PARACHUTE_HOME at all (already uninstalled, or a mistyped --home) reports
// "the box is absent; nothing to do" and exits 0, yet leaves a new home
// directory with a lock file behind; run by root with --home for a user's
// box it leaves a root-owned ~/.parachute the user's hub cannot write.
// README: "a run on a box that is already right does nothing".
func TestReview2AbsentRunDoesNotCreateHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "no-such-box")
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"reconcile", "--desired", "absent", "--home", home, "--port", strconv.Itoa(port)}, &out, &errb)
	if code != ExitConverged {
		t.Fatalf("reconcile --desired absent exited %d: %s%s", code, out.String(), errb.String())
	}
	if _, err := os.Lstat(home); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a converged absent run created %s (err %v); output: %s", home, err, out.String())
	}
}
