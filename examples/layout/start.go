package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parachute/reconcile/examples/internal/envfile"
)

// summary is what layout prints: the box's paths and, after --start, who runs.
type summary struct {
	Home       string          `json:"home"`
	Bin        string          `json:"bin"`
	HubPackage string          `json:"hubPackage"`
	Started    bool            `json:"started"`
	Ready      bool            `json:"ready"` // every port accepted TCP
	Hub        procSummary     `json:"hub"`
	Modules    []moduleSummary `json:"modules"`
	Problems   []string        `json:"problems,omitempty"`
}

// procSummary is one started process (pid, pgid, sid are 0 when not started).
type procSummary struct {
	Pid     int      `json:"pid,omitempty"`
	Pgid    int      `json:"pgid,omitempty"`
	Sid     int      `json:"sid,omitempty"`
	Port    int      `json:"port"`
	Argv    []string `json:"argv"`
	Dir     string   `json:"dir,omitempty"`
	Pidfile string   `json:"pidfile"`
	Log     string   `json:"log"`
}

// moduleSummary is one module.
type moduleSummary struct {
	Short       string `json:"short"`
	Name        string `json:"name"`
	InstallDir  string `json:"installDir"`
	Wrapper     bool   `json:"wrapper,omitempty"`
	SetsidChild bool   `json:"setsidChild,omitempty"`
	procSummary
}

// summary describes the laid-out box before anything is started.
func (b box) summary() summary {
	s := summary{
		Home:       b.cfg.home,
		Bin:        b.cfg.bin,
		HubPackage: b.pkgRoot,
		Hub: procSummary{
			Port:    b.cfg.hubPort,
			Argv:    b.hubArgv(),
			Pidfile: b.hubPidfile,
			Log:     b.hubLog,
		},
		Modules: []moduleSummary{},
	}
	for _, m := range b.modules {
		s.Modules = append(s.Modules, moduleSummary{
			Short: m.Short, Name: m.Name, InstallDir: m.InstallDir, Wrapper: m.Wrapper, SetsidChild: m.SetsidChild,
			procSummary: procSummary{Port: m.Port, Argv: m.StartCmd, Dir: m.InstallDir, Pidfile: m.Pidfile, Log: m.Log},
		})
	}
	return s
}

// hubArgv is ensureHubRunning's argv (§4.2), with the stand-in bun.
func (b box) hubArgv() []string {
	return []string{b.bun, b.hubServer, "--port", strconv.Itoa(b.cfg.hubPort),
		"--well-known-dir", filepath.Join(b.cfg.home, "well-known"), "--db", filepath.Join(b.cfg.home, "hub.db")}
}

// exit is a child's early exit, seen by the goroutine waiting on it.
type exit struct {
	what string
	err  error
}

// start starts the modules then the hub as the detached-era CLI did, fills
// in sum and waits until every port accepts TCP or one of them exits or wait
// passes. Whatever it started is left running, even on error: sum names it.
func (b box) start(sum *summary, wait time.Duration) error {
	ports := []int{b.cfg.hubPort}
	for _, m := range b.modules {
		ports = append(ports, m.Port)
	}
	// The old CLI probed only the hub port; probing every port first means a
	// busy one fails here, before anything runs, not as a crashed module.
	for _, p := range ports {
		if err := bindProbe(p); err != nil {
			return fmt.Errorf("port %d is not free: %w", p, err)
		}
	}
	exits := make(chan exit, len(b.modules)+1)
	base := envfile.Overlay(os.Environ(), envfile.Var{Key: "PARACHUTE_HOME", Value: b.cfg.home})
	sum.Started = true

	for i, m := range b.modules {
		vars, err := envfile.Read(m.Env)
		if err != nil {
			return fmt.Errorf("start module %s: read %s: %w", m.Short, m.Env, err)
		}
		// Detached era: PORT first, then .env over it (a .env PORT still won
		// then; hub#537 changed that only for the supervisor).
		env := envfile.Overlay(base, envfile.Var{Key: "PORT", Value: strconv.Itoa(m.Port)})
		env = envfile.Overlay(env, vars...)
		cmd := exec.Command(m.StartCmd[0], m.StartCmd[1:]...)
		cmd.Dir, cmd.Env = m.InstallDir, env
		// Own process group (spawn's detached: true): kill(-pid) reaches a
		// wrapper's child.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		pid, err := startLogged(cmd, m.Log, "module "+m.Short, exits)
		if err != nil {
			return err
		}
		fill(&sum.Modules[i].procSummary, pid)
		if err := writeFile(m.Pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("start module %s: %w", m.Short, err)
		}
	}

	argv := b.hubArgv()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = base
	// Not detached (no Setpgid, no Setsid): the hub stays in layout's group
	// and session and outlives layout's exit, as the unref()'d hub did.
	pid, err := startLogged(cmd, b.hubLog, "hub", exits)
	if err != nil {
		return err
	}
	fill(&sum.Hub, pid)
	if err := writeFile(b.hubPidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("start hub: %w", err)
	}
	if err := writeFile(b.hubPortf, []byte(strconv.Itoa(b.cfg.hubPort)+"\n"), 0o644); err != nil {
		return fmt.Errorf("start hub: %w", err)
	}

	if err := waitPorts(ports, wait, exits); err != nil {
		return err
	}
	sum.Ready = true
	return nil
}

// startLogged starts cmd with stdin /dev/null and stdout and stderr appended
// to log, and reports its exit on exits. It returns the pid.
func startLogged(cmd *exec.Cmd, log, what string, exits chan<- exit) (int, error) {
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("start %s: open log: %w", what, err)
	}
	defer f.Close() // the child has its own copy
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", what, err)
	}
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		exits <- exit{what: fmt.Sprintf("%s (pid %d, log %s)", what, cmd.Process.Pid, log), err: err}
	}()
	return cmd.Process.Pid, nil
}

// fill records pid and its group and session.
func fill(p *procSummary, pid int) {
	p.Pid = pid
	p.Pgid, _ = syscall.Getpgid(pid)
	p.Sid, _ = unix.Getsid(pid) // the syscall package lacks getsid on Linux
}

// bindProbe is the old CLI's port probe: listen on 127.0.0.1:port, close.
func bindProbe(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// waitPorts polls every port with a TCP connect until all accept, a child
// exits, or wait passes.
func waitPorts(ports []int, wait time.Duration, exits <-chan exit) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pending := append([]int(nil), ports...)
	for {
		var still []int
		for _, p := range pending {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), 200*time.Millisecond)
			if err != nil {
				still = append(still, p)
				continue
			}
			_ = c.Close()
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		select {
		case e := <-exits:
			return fmt.Errorf("%s exited before every port answered: %v", e.what, e.err)
		case <-deadline.C:
			sort.Ints(pending)
			return fmt.Errorf("ports %s did not accept TCP within %v", joinInts(pending), wait)
		case <-tick.C:
		}
	}
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
