// Command observebench times observe's port-owner scan against the tools it
// replaces: one `lsof -ti :PORT -sTCP:LISTEN` per port (what the hub runs)
// and one `ss -ltn` / `ss -ltnp`, for 10, 100 and 500 listening ports held
// by this process, and prints a Markdown table with the ratios.
//
// lsof is timed on a sample of the ports (-lsof-sample, spread evenly) and
// the per-port mean is multiplied by the number of ports: running it 500
// times would take most of a minute and say nothing more. Each figure is the
// median of -runs runs (lsof: the mean of the sample).
//
// Usage: go run ./bench/observebench [-ports 10,100,500] [-runs 15] [-lsof-sample 15]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/spec"
)

func main() {
	portsFlag := flag.String("ports", "10,100,500", "comma-separated numbers of listening ports")
	runs := flag.Int("runs", 15, "runs per figure (median)")
	sample := flag.Int("lsof-sample", 15, "lsof calls per row (spread over the ports, then extrapolated)")
	flag.Parse()
	if err := run(*portsFlag, *runs, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "observebench:", err)
		os.Exit(1)
	}
}

type row struct {
	ports                  int
	observe, ss, ssp, lsof time.Duration
	lsofCalls              int
}

func run(portsFlag string, runs, sample int) error {
	for _, tool := range []string{"lsof", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt-get install lsof iproute2", tool)
		}
	}
	var rows []row
	for _, f := range strings.Split(portsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad -ports entry %q", f)
		}
		r, err := measure(n, runs, sample)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	procs, _ := os.ReadDir("/proc")
	nproc := 0
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err == nil {
			nproc++
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("Kernel %s, %d processes in /proc, median of %d runs; lsof: mean of %d calls per row × ports (extrapolated).\n\n",
		strings.TrimSpace(string(kernel)), nproc, runs, sample)
	fmt.Println("| ports | observe (in-process) | `ss -ltn` | `ss -ltnp` | `lsof -ti :P -sTCP:LISTEN` × ports | observe ÷ `ss -ltn` | lsof ÷ observe |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %d | %s | %s | %s | %s (%d calls) | %.2f× | %.0f× |\n", r.ports, ms(r.observe), ms(r.ss), ms(r.ssp), ms(r.lsof), r.lsofCalls,
			float64(r.observe)/float64(r.ss), float64(r.lsof)/float64(r.observe))
	}
	fmt.Println()
	verdicts(rows)
	return nil
}

// verdicts prints the three targets against rows: observe at most
// 2× one `ss -ltn`, at least 10× faster than one lsof per port, and its
// cost per extra port between consecutive rows (linear when the slopes
// agree).
func verdicts(rows []row) {
	worstSS, worstLsof := 0.0, 0.0
	for i, r := range rows {
		ss := float64(r.observe) / float64(r.ss)
		lsof := float64(r.lsof) / float64(r.observe)
		if i == 0 || ss > worstSS {
			worstSS = ss
		}
		if i == 0 || lsof < worstLsof {
			worstLsof = lsof
		}
	}
	met := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	fmt.Printf("- At most 2× one `ss -ltn`: %s (worst row %.2f×).\n", met(worstSS <= 2), worstSS)
	fmt.Printf("- At least 10× faster than `lsof` per port: %s (worst row %.0f×).\n", met(worstLsof >= 10), worstLsof)
	var slopes []string
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if b.ports == a.ports {
			continue
		}
		us := float64(b.observe-a.observe) / float64(time.Microsecond) / float64(b.ports-a.ports)
		slopes = append(slopes, fmt.Sprintf("%d→%d ports: %.1f µs", a.ports, b.ports, us))
	}
	if len(slopes) > 1 {
		a, b := rows[0], rows[len(rows)-1]
		us := float64(b.observe-a.observe) / float64(time.Microsecond) / float64(b.ports-a.ports)
		fmt.Printf("- Linear in ports: observe's cost per extra port is %.1f µs from %d to %d ports (%s; these agree when the cost is linear, within the noise of the medians).\n",
			us, a.ports, b.ports, strings.Join(slopes, "; "))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func measure(n, runs, sample int) (row, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return row{}, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	hub, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return row{}, err
	}
	hubPort := hub.Addr().(*net.TCPAddr).Port
	hub.Close() // the hub is down: /health is refused at once
	home, err := os.MkdirTemp("", "observebench")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(home)
	d := spec.Desired{Home: home, HubPort: hubPort}
	for i, p := range ports {
		d.Manifest.Modules = append(d.Manifest.Modules, spec.Module{Name: fmt.Sprintf("parachute-m%d", i), Short: fmt.Sprintf("m%d", i), Port: p})
	}
	o := observe.New(observe.Env{})
	self := os.Getpid()

	// Check what is timed finds what it should, once.
	snap, err := o.Observe(context.Background(), d)
	if err != nil {
		return row{}, err
	}
	for _, p := range snap.Ports[1:] {
		if len(p.Listeners) != 1 || !slices.Equal(p.Listeners[0].Pids, []int{self}) {
			return row{}, fmt.Errorf("observe: port %d = %+v, want held by %d", p.Port, p.Listeners, self)
		}
	}
	r := row{ports: n}
	r.observe, err = median(runs, func() error { _, err := o.Observe(context.Background(), d); return err })
	if err != nil {
		return row{}, err
	}
	r.ss, err = median(runs, func() error { return exec.Command("ss", "-ltn").Run() })
	if err != nil {
		return row{}, err
	}
	r.ssp, err = median(runs, func() error { return exec.Command("ss", "-ltnp").Run() })
	if err != nil {
		return row{}, err
	}
	k := min(sample, n)
	var total time.Duration
	for i := range k {
		port := ports[i*n/k]
		start := time.Now()
		out, err := exec.Command("lsof", "-ti", ":"+strconv.Itoa(port), "-sTCP:LISTEN").Output()
		total += time.Since(start)
		if err != nil {
			return row{}, fmt.Errorf("lsof port %d: %w", port, err)
		}
		if got := strings.TrimSpace(string(out)); got != strconv.Itoa(self) {
			return row{}, fmt.Errorf("lsof port %d said %q, want %d", port, got, self)
		}
	}
	r.lsofCalls = k
	r.lsof = total / time.Duration(k) * time.Duration(n)
	return r, nil
}

func median(runs int, f func() error) (time.Duration, error) {
	var ds []time.Duration
	for range runs {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
