// Command demo walks the example box through the reconciler, as `make
// demo` runs it: a detached-era box is laid out and started, the plan is
// shown, the box is converged to a hub unit under a real systemd booted in
// private namespaces (never the machine's own), its status is shown, a
// second run shows there is nothing to do, and the box is rolled back to
// detached.
//
// Where the sandbox cannot boot (not root, no systemd installed, not Linux)
// it says why and shows the plan only, on loopback ports of the machine,
// then stops what it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/parachute/reconcile/e2e/sandbox"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding parachute, standin-hub, standin-module and layout")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	for _, b := range []string{"parachute", "standin-hub", "standin-module", "layout"} {
		if _, err := os.Stat(filepath.Join(abs, b)); err != nil {
			fail(fmt.Errorf("%s missing in %s: run make demo (it builds them)", b, abs))
		}
	}
	root, err := filepath.Abs(mustMkdir(sandbox.WorkRootDir))
	if err != nil {
		fail(err)
	}
	work, err := os.MkdirTemp(root, "demo-")
	if err != nil {
		fail(err)
	}
	_ = os.Chmod(work, 0o755)
	// The binaries go into the work directory: it is the one directory
	// the sandbox is sure to show at the same path (a checkout under /tmp
	// is invisible there, /tmp being private).
	local := filepath.Join(work, ".bin")
	if err := os.MkdirAll(local, 0o755); err != nil {
		fail(err)
	}
	for _, b := range []string{"parachute", "standin-hub", "standin-module", "layout"} {
		data, err := os.ReadFile(filepath.Join(abs, b))
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(local, b), data, 0o755); err != nil {
			fail(err)
		}
	}
	d := &demo{bin: local, work: work, home: filepath.Join(work, "home")}

	ctx := context.Background()
	in, err := sandbox.Boot(ctx, sandbox.Options{WorkDir: work})
	if err != nil {
		fmt.Printf("The systemd sandbox cannot boot here, so this demo only shows the plan.\n  why: %v\n\n", firstLine(err))
		d.planOnly()
		return
	}
	d.in = in
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = in.Shutdown(sctx)
		_ = os.RemoveAll(work)
	}()
	fmt.Printf("Booted a private systemd (%s) in %s; the machine's own service manager is not touched.\n", in.Name(), in.BootTime().Round(time.Millisecond))
	d.full()
}

type demo struct {
	bin, work, home string
	in              *sandbox.Instance
	portBase        string
}

func (d *demo) layout(extra ...string) []string {
	args := []string{filepath.Join(d.bin, "layout"), "--home", d.home, "--bin", filepath.Join(d.work, "boxbin"),
		"--lib", filepath.Join(d.work, "lib"), "--hub-binary", filepath.Join(d.bin, "standin-hub"),
		"--module-binary", filepath.Join(d.bin, "standin-module")}
	if d.portBase != "" {
		args = append(args, "--hub-port", d.portBase, "--port-base", d.portBase)
	}
	return append(args, extra...)
}

// run shows and runs argv (inside the sandbox when there is one).
func (d *demo) run(title string, argv ...string) {
	fmt.Printf("\n━━ %s\n$ %s\n", title, strings.Join(shorten(argv, d), " "))
	var cmd *exec.Cmd
	if d.in != nil {
		cmd = d.in.Command(context.Background(), append([]string{"env", "-C", d.work}, argv...)...)
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
		cmd.Dir = d.work
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	t0 := time.Now()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		fail(err)
	}
	fmt.Printf("(exit %d, %s)\n", code, time.Since(t0).Round(time.Millisecond))
}

func (d *demo) writeSpec() {
	out, err := d.output(d.layout("--print-spec")...)
	if err != nil {
		fail(fmt.Errorf("layout --print-spec: %v", err))
	}
	if err := os.WriteFile(filepath.Join(d.work, "spec.yaml"), out, 0o644); err != nil {
		fail(err)
	}
}

func (d *demo) output(argv ...string) ([]byte, error) {
	if d.in != nil {
		return d.in.Command(context.Background(), argv...).Output()
	}
	return exec.Command(argv[0], argv[1:]...).Output()
}

func (d *demo) full() {
	p := filepath.Join(d.bin, "parachute")
	d.run("lay out a detached-era box: hub + vault, scribe (through a wrapper), surface", d.layout("--start", "--wrapper", "scribe")...)
	d.writeSpec()
	d.run("what the reconciler sees", p, "observe", "--spec", "spec.yaml")
	d.run("the plan (changes nothing; exit 2: changes pending)", p, "reconcile", "--spec", "spec.yaml", "--plan")
	d.run("converge to supervised", p, "reconcile", "--spec", "spec.yaml")
	d.run("the hub unit", "systemctl", "status", "--no-pager", "--lines=0", "parachute-hub.service")
	d.run("run again: nothing to do", p, "reconcile", "--spec", "spec.yaml")
	d.run("roll back to detached", p, "reconcile", "--spec", "spec.yaml", "--desired", "detached")
	d.run("and the box now", p, "observe", "--spec", "spec.yaml")
}

func (d *demo) planOnly() {
	d.portBase = "21939"
	p := filepath.Join(d.bin, "parachute")
	d.run("lay out a detached-era box on loopback ports 21939+", d.layout("--start", "--wrapper", "scribe")...)
	d.writeSpec()
	d.run("what the reconciler sees", p, "observe", "--spec", "spec.yaml")
	d.run("the plan for supervised (blocked here: no service manager to ask)", p, "reconcile", "--spec", "spec.yaml", "--plan")
	d.run("the plan for the rollback model, detached", p, "reconcile", "--spec", "spec.yaml", "--plan", "--desired", "detached")
	d.run("clean up: converge to absent (stops what the demo started)", p, "reconcile", "--spec", "spec.yaml", "--desired", "absent")
	_ = os.RemoveAll(d.work)
}

// shorten replaces the demo's long directories in a displayed command.
func shorten(argv []string, d *demo) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, d.bin+"/", "")
		a = strings.ReplaceAll(a, d.work, "$DEMO")
		out[i] = a
	}
	return out
}

func mustMkdir(dir string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	return dir
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}
