package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Version is what /health reports.
const version = "0.7.15-standin"

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

func main() {
	// Signals are caught from the first instant so that a SIGTERM during a
	// slow bind or the module boot always takes the graceful path.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], sigs, os.Stdout, os.Stderr))
}

// run dispatches on the arguments and returns the exit code.
func run(args []string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	script := ""
	if len(args) > 0 {
		script = scriptName(args[0])
		if script != "" {
			args = args[1:]
		}
	}
	if os.Getenv("STANDIN_HUB_FAIL") == "1" {
		fmt.Fprintln(stderr, "standin-hub: STANDIN_HUB_FAIL=1: failing at once")
		return exitFail
	}
	switch {
	case script == "hub-server.ts", script == "" && len(args) > 0 && strings.HasPrefix(args[0], "--"):
		return hubServer(args, sigs, stdout, stderr)
	case (script == "" || script == "cli.ts") && len(args) > 0 && args[0] == "serve":
		return serve(sigs, stdout, stderr)
	}
	fmt.Fprintf(stderr, "standin-hub: unsupported invocation %q (want `serve` or `--port N --well-known-dir D --db F`, optionally after a cli.ts or hub-server.ts script path)\n", strings.Join(args, " "))
	return exitUsage
}

// scriptName returns the base name of the TypeScript file arg names, or ""
// when arg is not one. A symlink is followed first: run through its
// `#!/usr/bin/env bun` line, `parachute serve` reaches bun as
// `bun <bin>/parachute serve`, and bun runs the link's target, src/cli.ts.
func scriptName(arg string) string {
	if strings.HasPrefix(arg, "-") || arg == "serve" {
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(arg); err == nil && strings.HasSuffix(resolved, ".ts") {
		return filepath.Base(resolved)
	}
	if strings.HasSuffix(arg, ".ts") {
		return filepath.Base(arg)
	}
	return ""
}

// network is "tcp4" for an IPv4 literal host and "tcp" otherwise: Go listens
// on both stacks for "0.0.0.0" under "tcp", where the hub (Bun) binds IPv4 only.
func network(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		return "tcp4"
	}
	return "tcp"
}

// configDir resolves PARACHUTE_HOME as the hub does (src/config.ts): the
// variable when set and non-empty, else $HOME/.parachute; no tilde expansion
// and no making it absolute.
func configDir() string {
	if h := os.Getenv("PARACHUTE_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	return filepath.Join(home, ".parachute")
}

// slowBind sleeps for STANDIN_HUB_SLOW_BIND when set, returning early (false)
// when a signal arrives first.
func slowBind(sigs <-chan os.Signal, stderr io.Writer) (proceed bool, code int) {
	raw := os.Getenv("STANDIN_HUB_SLOW_BIND")
	if raw == "" {
		return true, exitOK
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		fmt.Fprintf(stderr, "standin-hub: STANDIN_HUB_SLOW_BIND: %v\n", err)
		return false, exitFail
	}
	select {
	case <-time.After(d):
		return true, exitOK
	case sig := <-sigs:
		fmt.Fprintf(stderr, "standin-hub: got %v before binding; exiting\n", sig)
		return false, exitOK
	}
}
