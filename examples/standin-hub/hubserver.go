package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// hubServer is the detached era's `bun src/hub-server.ts --port N
// --well-known-dir D --db F [--issuer X]`: it binds, writes hub/run/hub.pid
// and hub.port with its own pid, serves /health with no supervisor, and
// removes both files when it stops on SIGTERM or SIGINT (§3.3, §4.2).
func hubServer(args []string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 1939, "port to listen on")
	fs.String("well-known-dir", "", "well-known directory (accepted, unused by the stand-in)")
	fs.String("db", "", "hub database (accepted, unused by the stand-in)")
	fs.String("issuer", "", "OAuth issuer origin (accepted, unused by the stand-in)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || *port < 1 || *port > 65535 {
		fmt.Fprintf(stderr, "hub-server: bad arguments %q\n", args)
		return exitUsage
	}
	host := os.Getenv("PARACHUTE_BIND_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	if ok, code := slowBind(sigs, stderr); !ok {
		return code
	}
	ln, err := net.Listen(network(host), net.JoinHostPort(host, strconv.Itoa(*port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintf(stderr, "hub-server: port %d is already in use\n", *port)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "hub-server: listen on %s:%d: %v\n", host, *port, err)
		return exitFail
	}

	runDir := filepath.Join(configDir(), "hub", "run")
	pidPath, portPath := filepath.Join(runDir, "hub.pid"), filepath.Join(runDir, "hub.port")
	// Upstream clears both files unconditionally on the way out.
	defer func() { _ = os.Remove(pidPath); _ = os.Remove(portPath) }()
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "hub-server: %v\n", err)
		return exitFail
	}
	if err := writeAtomic(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		fmt.Fprintf(stderr, "hub-server: write %s: %v\n", pidPath, err)
	}
	if err := writeAtomic(portPath, []byte(strconv.Itoa(*port)+"\n"), 0o644); err != nil {
		fmt.Fprintf(stderr, "hub-server: write %s: %v\n", portPath, err)
	}

	srv := &http.Server{Handler: handler("", false), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "parachute hub-server listening on %s (pid %d, no supervisor)\n", ln.Addr(), os.Getpid())

	code := exitOK
	select {
	case sig := <-sigs:
		fmt.Fprintf(stdout, "parachute hub-server: got %v; stopping\n", sig)
	case err := <-served:
		fmt.Fprintf(stderr, "hub-server: http: %v\n", err)
		code = exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	return code
}
