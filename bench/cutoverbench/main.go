package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/e2e/sandbox"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "agent":
			os.Exit(agentMain(os.Args[2:], os.Stdout, os.Stderr))
		case "scale-agent":
			os.Exit(scaleAgentMain(os.Args[2:], os.Stdout, os.Stderr))
		case "noop-agent":
			os.Exit(noopAgentMain(os.Args[2:], os.Stdout, os.Stderr))
		case "scale":
			os.Exit(hostScale(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(hostMain(os.Args[1:], os.Stdout, os.Stderr))
}

// hostMain boots one sandbox per run, runs the agent in it and prints the
// report. It returns the exit code: 0 done, 1 failed, 64 usage.
func hostMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cutoverbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "directory with parachute, standin-hub, standin-module, layout (visible inside the sandbox)")
	work := fs.String("work", "", "work directory for the sandboxes (visible inside; e.g. <module>/.e2e-work/bench)")
	runs := fs.Int("runs", 5, "runs, each on a fresh sandbox and box, at least")
	maxRuns := fs.Int("max-runs", 9, "runs at most: more than -runs are made while the time spent is under -budget")
	budget := fs.Duration("budget", 90*time.Second, "time after which no run beyond -runs is started")
	reruns := fs.Int("reruns", 5, "no-op reruns per run")
	jsonOut := fs.String("json", "", "also write every run's raw figures to this file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *bin == "" || *work == "" || *runs < 1 || *maxRuns < *runs || *reruns < 1 {
		fmt.Fprintln(stderr, "cutoverbench: usage: cutoverbench -bin DIR -work DIR [-runs N] [-max-runs N] [-budget D] [-reruns N] [-json FILE]")
		return 64
	}
	if err := host(*bin, *work, *runs, *maxRuns, *budget, *reruns, *jsonOut, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "cutoverbench: %v\n", err)
		return 1
	}
	return 0
}

// insidePrivate are trees the sandbox replaces: nothing the agent needs may
// live there.
var insidePrivate = []string{"/tmp/", "/var/tmp/", "/run/", "/home/", "/dev/", "/proc/", "/sys/"}

func host(bin, work string, runs, maxRuns int, budget time.Duration, reruns int, jsonOut string, stdout, stderr io.Writer) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("needs Linux (a systemd sandbox), this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: it boots systemd in private namespaces (e2e/sandbox)")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	for _, p := range []*string{&bin, &work} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	for _, p := range []string{self, bin, work} {
		for _, priv := range insidePrivate {
			if strings.HasPrefix(p+"/", priv) {
				return fmt.Errorf("%s is under %s, which the sandbox makes private: build and work elsewhere (e.g. .e2e-work)", p, priv)
			}
		}
	}
	for _, b := range []string{"parachute", "standin-hub", "standin-module", "layout"} {
		if fi, err := os.Stat(filepath.Join(bin, b)); err != nil || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: not an executable (build it into -bin)", filepath.Join(bin, b))
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	var all []Run
	var systemd string
	began := time.Now()
	for i := 0; i < runs || i < maxRuns && time.Since(began) < budget; i++ {
		r, version, err := hostRun(bin, filepath.Join(work, "run-"+strconv.Itoa(i+1)), self, reruns, stderr)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		all = append(all, r)
		systemd = version
		fmt.Fprintf(stderr, "cutoverbench: run %d: cutover %s, limit %s, overhead %s (%s spent)\n", i+1, ms(r.Cutover), ms(r.limit()), ms(r.overhead()), time.Since(began).Round(time.Second))
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Inside the sandbox: %s.\n\n", systemd)
	render(stdout, all)
	return nil
}

// hostRun boots a sandbox in dir, runs the agent in it and shuts it down.
// It returns the run and the sandbox's systemd version line.
func hostRun(bin, dir, self string, reruns int, stderr io.Writer) (Run, string, error) {
	var r Run
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	in, err := sandbox.Boot(ctx, sandbox.Options{WorkDir: dir, Log: prefixed{stderr}})
	if err != nil {
		return r, "", err
	}
	defer func() { _ = in.Shutdown(context.Background()) }()
	version, _ := in.Systemctl(ctx, "--version")
	version, _, _ = strings.Cut(version, "\n")

	cmd := in.Command(ctx, self, "agent", "-bin", bin, "-dir", dir, "-reruns", strconv.Itoa(reruns))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, prefixed{stderr}
	if err := cmd.Run(); err != nil {
		return r, "", fmt.Errorf("agent: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, "", fmt.Errorf("agent output: %w", err)
	}
	if err := in.Shutdown(ctx); err != nil {
		return r, "", err
	}
	_ = os.RemoveAll(dir)
	return r, version, nil
}

// prefixed writes progress lines to the underlying writer, prefixed so that
// they read as the bench's.
type prefixed struct{ w io.Writer }

func (p prefixed) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprint(p.w, "  "+line)
		}
	}
	return len(b), nil
}
