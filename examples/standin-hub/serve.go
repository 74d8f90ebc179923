package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parachute/reconcile/examples/internal/envfile"
)

// serve is `parachute serve`: bind first, answer /health, write
// hub-instance.json, boot the services.json modules, and on SIGTERM/SIGINT
// stop them, stop listening and remove hub-instance.json.
func serve(sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	home := configDir()
	_ = os.Setenv("PATH", enrichedPath(os.Getenv("PARACHUTE_EXTRA_PATH"), os.Getenv("PATH")))
	port := 1939
	if raw, ok := os.LookupEnv("PORT"); ok {
		p, err := strconv.Atoi(raw)
		if err != nil || p < 1 || p > 65535 {
			fmt.Fprintf(stderr, "parachute serve: PORT must be 1..65535, got %q\n", raw)
			return exitFail
		}
		port = p
	}
	host := os.Getenv("PARACHUTE_BIND_HOST")
	if host == "" {
		host = "0.0.0.0"
	}
	if ok, code := slowBind(sigs, stderr); !ok {
		return code
	}

	// Bind before touching any module (hub#536): a second serve must fail
	// here and never boot a rival set of children.
	ln, err := net.Listen(network(host), net.JoinHostPort(host, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintf(stderr, "parachute serve: hub port %d is already in use — another hub/supervisor is running.\n", port)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "parachute serve: listen on %s:%d: %v\n", host, port, err)
		return exitFail
	}
	instance := newUUID()
	srv := &http.Server{Handler: handler(instance, true), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	out := &lines{w: stdout}
	out.line(fmt.Sprintf("parachute serve: hub listening on %s (pid %d, instance %s, home %s)", ln.Addr(), os.Getpid(), instance, home))

	instancePath := filepath.Join(home, "hub-instance.json")
	if err := writeInstance(instancePath, instance, port); err != nil {
		fmt.Fprintf(stderr, "parachute serve: write %s: %v\n", instancePath, err)
	}

	sup := newSupervisor(defaultPolicy, out)
	ctx, cancel := context.WithCancel(context.Background())
	booted := make(chan struct{})
	go func() {
		defer close(booted)
		boot(ctx, sup, home, out, &lines{w: stderr})
	}()

	code := exitOK
	select {
	case sig := <-sigs:
		out.line(fmt.Sprintf("parachute serve: got %v; stopping modules", sig))
	case err := <-served:
		fmt.Fprintf(stderr, "parachute serve: http: %v\n", err)
		code = exitFail
	}
	cancel()
	sup.close()
	<-booted
	shutdown, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
	}
	removeInstance(instancePath, instance)
	out.line("parachute serve: stopped")
	return code
}

// boot starts every services.json row in file order, serially, each behind
// the readiness gate (bootSupervisedModules).
func boot(ctx context.Context, sup *supervisor, home string, out, warn *lines) {
	path := filepath.Join(home, "services.json")
	mods := readModules(path, lineWriter{warn})
	sup.logf("booting %d module(s) from %s", len(mods), path)
	started := map[int]string{}
	for _, m := range mods {
		if ctx.Err() != nil {
			return
		}
		argv := startCmd(m.InstallDir)
		if argv == nil {
			sup.logf("%s: no startCmd resolvable (no %s) — skipping", m.Short, filepath.Join(m.InstallDir, ".parachute", "module.json"))
			continue
		}
		if prev, ok := started[m.Port]; ok {
			sup.logf("%s: port %d is served by %s already (shared vault mounts) — skipping", m.Short, m.Port, prev)
			continue
		}
		vars, err := envfile.Read(filepath.Join(home, m.Short, ".env"))
		if err != nil {
			sup.logf("%s: cannot read .env: %v", m.Short, err)
		}
		// PORT from services.json always wins over a .env PORT (hub#537).
		env := envfile.Overlay(os.Environ(), envfile.Var{Key: "PORT", Value: strconv.Itoa(m.Port)})
		env = envfile.Overlay(env, envfile.Without(vars, "PORT")...)
		err = sup.start(ctx, request{Short: m.Short, Argv: argv, Dir: m.InstallDir, Env: env, Port: m.Port})
		if errors.Is(err, errClosed) || errors.Is(err, context.Canceled) {
			return
		}
		if err != nil {
			sup.logf("%s: %v", m.Short, err)
		}
		started[m.Port] = m.Short
	}
}

// lineWriter adapts lines to an io.Writer for the manifest reader's warnings.
type lineWriter struct{ l *lines }

func (w lineWriter) Write(p []byte) (int, error) {
	w.l.line(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// hubInstance is hub-instance.json (§6.3), fields in the hub's order.
type hubInstance struct {
	Instance  string `json:"instance"`
	Pid       int    `json:"pid"`
	Port      int    `json:"port"`
	StartedAt string `json:"startedAt"`
}

// writeInstance writes hub-instance.json atomically as the hub does: a
// "<path>.tmp-<pid>-<ms>" file, mode 0644, renamed over the target.
func writeInstance(path, instance string, port int) error {
	now := time.Now()
	b, err := json.MarshalIndent(hubInstance{
		Instance:  instance,
		Pid:       os.Getpid(),
		Port:      port,
		StartedAt: now.UTC().Format("2006-01-02T15:04:05.000Z"),
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'), 0o644)
}

// removeInstance deletes hub-instance.json if it still names this instance.
func removeInstance(path, instance string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var hi hubInstance
	if json.Unmarshal(b, &hi) == nil && hi.Instance == instance {
		_ = os.Remove(path)
	}
}

// writeAtomic writes data to a temporary sibling and renames it over path.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp-%d-%d", path, os.Getpid(), time.Now().UnixMilli())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile's mode is subject to the umask
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// enrichedPath is the hub's enrichedPath (§7.2): $PARACHUTE_EXTRA_PATH, then
// the inherited PATH, then ~/.local/bin, the darwin brew bin and ~/.bun/bin
// where they exist; empty entries dropped, duplicates dropped (first wins).
func enrichedPath(extra, inherited string) string {
	var entries []string
	entries = append(entries, strings.Split(extra, ":")...)
	entries = append(entries, strings.Split(inherited, ":")...)
	if home, err := os.UserHomeDir(); err == nil {
		candidates := []string{filepath.Join(home, ".local", "bin")}
		if runtime.GOOS == "darwin" {
			brew := "/usr/local/bin"
			if runtime.GOARCH == "arm64" {
				brew = "/opt/homebrew/bin"
			}
			candidates = append(candidates, brew)
		}
		candidates = append(candidates, filepath.Join(home, ".bun", "bin"))
		for _, c := range candidates {
			if _, err := os.Stat(c); err == nil {
				entries = append(entries, c)
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return strings.Join(out, ":")
}
