package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/parachute/reconcile/spec"
)

// Helper modes, run by the test binary re-executed with helperEnv set:
//
//	serve         listen on 127.0.0.1:0 (and [::1]:0 when possible), answer
//	              GET /health on the v4 port, print "READY <v4> <v6>", exit
//	              when stdin closes.
//	observe-self  open PARACHUTE_OBSERVE_N listeners and a /health server of
//	              its own, observe them, print a summary as JSON; with
//	              PARACHUTE_OBSERVE_FORK=1 also run /bin/true afterwards
//	              (the control case of the no-fork test).
//	observe-ports observe the ports in PARACHUTE_OBSERVE_PORTS (held by
//	              someone else), print the snapshot as JSON.
func runHelper(mode string) int {
	var err error
	switch mode {
	case "serve":
		err = helperServe()
	case "observe-self":
		err = helperObserveSelf()
	case "observe-ports":
		err = helperObservePorts()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

const helperHealthBody = `{"status":"ok","service":"parachute-hub","version":"test","db":"ok"}`

func healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, helperHealthBody)
	})
	return mux
}

func helperServe() error {
	l4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	v6 := 0
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		v6 = l6.Addr().(*net.TCPAddr).Port
		defer l6.Close()
	}
	go http.Serve(l4, healthHandler())
	fmt.Printf("READY %d %d\n", l4.Addr().(*net.TCPAddr).Port, v6)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// selfSummary is what observe-self prints.
type selfSummary struct {
	Self        int  `json:"self"`
	Declared    int  `json:"declared"`
	OwnedBySelf int  `json:"ownedBySelf"`
	HealthOK    bool `json:"healthOK"`
	AnsweredBy  int  `json:"answeredBy"`
}

func helperObserveSelf() error {
	n, err := strconv.Atoi(os.Getenv("PARACHUTE_OBSERVE_N"))
	if err != nil {
		return fmt.Errorf("PARACHUTE_OBSERVE_N: %w", err)
	}
	hub, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(hub, healthHandler())
	var mods []spec.Module
	for i := range n {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		mods = append(mods, spec.Module{Name: fmt.Sprintf("parachute-m%d", i), Short: fmt.Sprintf("m%d", i), Port: l.Addr().(*net.TCPAddr).Port})
	}
	d := spec.Desired{Home: os.Getenv("PARACHUTE_OBSERVE_HOME"), HubPort: hub.Addr().(*net.TCPAddr).Port, Manifest: spec.Manifest{Modules: mods}}
	snap, err := New(Env{}).Observe(context.Background(), d)
	if err != nil {
		return err
	}
	if os.Getenv("PARACHUTE_OBSERVE_FORK") == "1" {
		if err := exec.Command("/bin/true").Run(); err != nil {
			return err
		}
	}
	s := selfSummary{Self: os.Getpid(), Declared: len(snap.Ports), HealthOK: snap.Health.OK, AnsweredBy: snap.Health.AnsweredBy}
	for _, p := range snap.Ports {
		if len(p.Listeners) == 1 && len(p.Listeners[0].Pids) == 1 && p.Listeners[0].Pids[0] == s.Self {
			s.OwnedBySelf++
		}
	}
	return json.NewEncoder(os.Stdout).Encode(s)
}

func helperObservePorts() error {
	var ports []int
	for _, f := range strings.Split(os.Getenv("PARACHUTE_OBSERVE_PORTS"), ",") {
		p, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("PARACHUTE_OBSERVE_PORTS: %w", err)
		}
		ports = append(ports, p)
	}
	var mods []spec.Module
	for i, p := range ports[1:] {
		mods = append(mods, spec.Module{Name: fmt.Sprintf("parachute-m%d", i), Short: fmt.Sprintf("m%d", i), Port: p})
	}
	d := spec.Desired{Home: os.Getenv("PARACHUTE_OBSERVE_HOME"), HubPort: ports[0], Manifest: spec.Manifest{Modules: mods}}
	snap, err := New(Env{}).Observe(context.Background(), d)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(snap)
}
