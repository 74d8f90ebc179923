package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// options are the parsed flags after "serve".
type options struct {
	health        string
	ignoreSigterm bool
	slowExit      time.Duration
	wrapper       bool
	setsidChild   bool
}

// run is main without os.Exit: it returns the exit code.
func run(argv []string, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	if len(argv) < 2 || argv[1] != "serve" {
		fmt.Fprintf(stderr, "%s: usage: %s serve [--health PATH] [--ignore-sigterm] [--slow-exit D] [--wrapper] [--setsid-child]\n", name, name)
		return exitUsage
	}
	var o options
	fs := flag.NewFlagSet(name+" serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.health, "health", "/health", "path answered with 200 JSON")
	fs.BoolVar(&o.ignoreSigterm, "ignore-sigterm", false, "ignore SIGTERM (must be SIGKILLed)")
	fs.DurationVar(&o.slowExit, "slow-exit", 0, "wait this long after SIGTERM before exiting")
	fs.BoolVar(&o.wrapper, "wrapper", false, "re-exec as a child that holds the port; this process only waits")
	fs.BoolVar(&o.setsidChild, "setsid-child", false, "like --wrapper, and the child calls setsid")
	if err := fs.Parse(argv[2:]); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return exitUsage
	}
	if o.wrapper || o.setsidChild {
		return wrap(argv, o, stdout, stderr)
	}
	return serve(name, o, stdout, stderr)
}

// wrap runs the same command without the wrapper flags as a child and waits
// for it, exiting with its code. Signals are left at Go's defaults: SIGTERM
// ends this process at once and the child lives on.
func wrap(argv []string, o options, stdout, stderr io.Writer) int {
	name := filepath.Base(argv[0])
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: wrapper: find own executable: %v\n", name, err)
		return exitFail
	}
	childArgs := []string{"serve", "--health", o.health}
	if o.ignoreSigterm {
		childArgs = append(childArgs, "--ignore-sigterm")
	}
	if o.slowExit > 0 {
		childArgs = append(childArgs, "--slow-exit", o.slowExit.String())
	}
	cmd := exec.Command(self, childArgs...)
	// argv[0] stays the module's name (parachute-vault): that is the marker
	// attribution looks for in the holder's cmdline.
	cmd.Args[0] = argv[0]
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: o.setsidChild}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "%s: wrapper: start child: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s wrapper (pid %d) started child pid %d (setsid %t)\n", name, os.Getpid(), cmd.Process.Pid, o.setsidChild)
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() >= 0 {
			return exit.ExitCode()
		}
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: wrapper: wait child: %v\n", name, err)
		return exitFail
	}
	return exitOK
}

// serve binds 127.0.0.1:$PORT and answers until SIGTERM/SIGINT.
func serve(name string, o options, stdout, stderr io.Writer) int {
	raw := os.Getenv("PORT")
	port, err := strconv.Atoi(raw)
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintf(stderr, "%s: PORT must be 1..65535, got %q\n", name, raw)
		return exitFail
	}
	// Signals are set up before binding so that no SIGTERM arriving after the
	// port is held can take the default (die at once) path.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if o.ignoreSigterm {
		signal.Ignore(syscall.SIGTERM)
	}

	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s listening on %s (pid %d, pgid %d)\n", name, ln.Addr(), os.Getpid(), getpgrp())

	body, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Service string `json:"service"`
		Pid     int    `json:"pid"`
		Port    int    `json:"port"`
	}{"ok", name, os.Getpid(), port})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusNotFound
		if r.URL.Path == o.health && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			code = http.StatusOK
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(code)
			_, _ = w.Write(append(body, '\n'))
		} else {
			http.NotFound(w, r)
		}
		fmt.Fprintf(stdout, "%s %s %d\n", r.Method, r.URL.Path, code)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case sig := <-sigs:
		fmt.Fprintf(stdout, "%s got %v; stopping\n", name, sig)
	case err := <-served:
		fmt.Fprintf(stderr, "%s: serve: %v\n", name, err)
		return exitFail
	}
	if o.slowExit > 0 {
		time.Sleep(o.slowExit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	<-served
	fmt.Fprintf(stdout, "%s stopped\n", name)
	return exitOK
}

// getpgrp is the process group of this process.
func getpgrp() int { return syscall.Getpgrp() }
