package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parachute/reconcile/e2e/sandbox"
	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
)

// binSet names the binaries a test uses.
type binSet struct {
	dir                                          string
	parachute, standinHub, standinModule, layout string
}

// bins are built once per test binary into the git-ignored work root; each
// box links them into its own work directory (linkInto), the one directory
// a sandbox is sure to see: when the checkout lies under /tmp, which is
// private inside a sandbox, nothing else of it is visible there.
var bins binSet

// linkInto hard-links (or copies) the set into dir and returns the new set.
func (s binSet) linkInto(dir string) (binSet, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return binSet{}, err
	}
	out := binSet{dir: dir}
	for _, f := range []struct {
		src string
		dst *string
	}{{s.parachute, &out.parachute}, {s.standinHub, &out.standinHub}, {s.standinModule, &out.standinModule}, {s.layout, &out.layout}} {
		dst := filepath.Join(dir, filepath.Base(f.src))
		if err := os.Link(f.src, dst); err != nil {
			data, rerr := os.ReadFile(f.src)
			if rerr != nil {
				return binSet{}, rerr
			}
			if werr := os.WriteFile(dst, data, 0o755); werr != nil {
				return binSet{}, werr
			}
		}
		*f.dst = dst
	}
	return out, nil
}

func TestMain(m *testing.M) {
	root, err := moduleRoot()
	if err == nil {
		bins.dir, err = os.MkdirTemp(filepath.Join(root, sandbox.WorkRootDir), "bin-")
		if os.IsNotExist(err) {
			_ = os.MkdirAll(filepath.Join(root, sandbox.WorkRootDir), 0o755)
			bins.dir, err = os.MkdirTemp(filepath.Join(root, sandbox.WorkRootDir), "bin-")
		}
	}
	if err == nil {
		_ = os.Chmod(bins.dir, 0o755)
		for _, b := range []struct {
			out *string
			pkg string
		}{{&bins.parachute, "./cmd/parachute"}, {&bins.standinHub, "./examples/standin-hub"}, {&bins.standinModule, "./examples/standin-module"}, {&bins.layout, "./examples/layout"}} {
			*b.out = filepath.Join(bins.dir, filepath.Base(b.pkg))
			cmd := exec.Command("go", "build", "-o", *b.out, b.pkg)
			cmd.Dir = root
			if out, berr := cmd.CombinedOutput(); berr != nil {
				err = fmt.Errorf("go build %s: %v\n%s", b.pkg, berr, out)
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot build the binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(bins.dir)
	os.Exit(code)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// box is one example box inside one sandbox.
type box struct {
	t    *testing.T
	in   *sandbox.Instance
	dir  string // the test's work directory (visible inside)
	home string
	spec string
	// as runs commands as this user (nil: root).
	as *sandbox.User
	// bins are this box's links to the binaries under test.
	bins binSet
}

// newBox boots a sandbox and lays out the example box's files in it (not
// started).
func newBox(t *testing.T) *box {
	t.Helper()
	in := sandbox.New(t, sandbox.Options{})
	b := &box{t: t, in: in, dir: in.WorkDir()}
	var err error
	if b.bins, err = bins.linkInto(filepath.Join(b.dir, ".bin")); err != nil {
		t.Fatalf("binaries: %v", err)
	}
	b.home = filepath.Join(b.dir, "home")
	b.spec = filepath.Join(b.dir, "spec.yaml")
	return b
}

// layoutArgs are the layout tool's flags for this box.
func (b *box) layoutArgs(extra ...string) []string {
	return append([]string{b.bins.layout, "--home", b.home, "--bin", filepath.Join(b.dir, "boxbin"),
		"--lib", filepath.Join(b.dir, "lib"),
		"--hub-binary", b.bins.standinHub, "--module-binary", b.bins.standinModule}, extra...)
}

// detachedEra lays out the box as the old hub left it and starts it: hub
// and three modules, scribe through a wrapper whose child holds the port.
func (b *box) detachedEra(extra ...string) {
	b.t.Helper()
	args := b.layoutArgs(append([]string{"--start", "--wrapper", "scribe"}, extra...)...)
	if out, err := b.run(args...); err != nil {
		b.t.Fatalf("layout: %v\n%s", err, out)
	}
	spec, err := b.run(b.layoutArgs("--print-spec")...)
	if err != nil {
		b.t.Fatalf("layout --print-spec: %v\n%s", err, spec)
	}
	if err := os.WriteFile(b.spec, []byte(spec), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cmd returns a command inside the sandbox, as root or as b.as.
func (b *box) cmd(ctx context.Context, argv ...string) *exec.Cmd {
	if b.as != nil {
		return b.in.CommandAs(ctx, *b.as, argv...)
	}
	return b.in.Command(ctx, argv...)
}

// run runs argv inside and returns its combined output.
func (b *box) run(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := b.cmd(ctx, argv...).CombinedOutput()
	return string(out), err
}

// result is one parachute run.
type result struct {
	code   int
	stdout string
	stderr string
	doc    reconcile.Document
	events []map[string]any
}

// parachute runs the reconciler inside with --spec and --output json and
// decodes its events and result document.
func (b *box) parachute(args ...string) result {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	argv := append([]string{b.bins.parachute}, args...)
	argv = append(argv, "--spec", b.spec, "--output", "json")
	cmd := b.cmd(ctx, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("parachute %v: %v", args, err)
	}
	r.events, r.doc = splitOutput(b.t, r.stdout)
	return r
}

// splitOutput separates event lines from the final document.
func splitOutput(t *testing.T, out string) ([]map[string]any, reconcile.Document) {
	t.Helper()
	var events []map[string]any
	var doc reconcile.Document
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var rest strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `{"event":`) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("bad event line %q: %v", line, err)
			}
			events = append(events, ev)
			continue
		}
		rest.WriteString(line + "\n")
	}
	if strings.TrimSpace(rest.String()) != "" {
		if err := json.Unmarshal([]byte(rest.String()), &doc); err != nil {
			t.Fatalf("bad result document: %v\n%s", err, rest.String())
		}
	}
	return events, doc
}

// observe runs `parachute observe --output json` inside and decodes it.
func (b *box) observe() observe.Snapshot {
	b.t.Helper()
	out, err := b.cmd(context.Background(), b.bins.parachute, "observe", "--spec", b.spec, "--output", "json").Output()
	if err != nil {
		b.t.Fatalf("parachute observe: %v", err)
	}
	var s observe.Snapshot
	if err := json.Unmarshal(out, &s); err != nil {
		b.t.Fatalf("parachute observe output: %v", err)
	}
	return s
}

// systemctl runs systemctl in the box's scope.
func (b *box) systemctl(args ...string) string {
	b.t.Helper()
	argv := []string{"systemctl"}
	if b.as != nil {
		argv = append(argv, "--user")
	}
	out, _ := b.run(append(argv, args...)...)
	return strings.TrimSpace(out)
}

// prop reads one property of a unit.
func (b *box) prop(unit, name string) string {
	return b.systemctl("show", "-p", name, "--value", unit)
}

// procCgroup reads the cgroup of pid inside the sandbox (its own pid
// namespace, so read through nsenter).
func (b *box) procCgroup(pid int) string {
	out, _ := b.run("cat", "/proc/"+strconv.Itoa(pid)+"/cgroup")
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return rest
		}
	}
	return ""
}

// alive reports whether pid (inside the sandbox) is a live, non-zombie process.
func (b *box) alive(pid int) bool {
	out, err := b.run("cat", "/proc/"+strconv.Itoa(pid)+"/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(out, ')')
	return i > 0 && len(out) > i+2 && out[i+2] != 'Z'
}
