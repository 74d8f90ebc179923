package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// nodeExporter runs the real prometheus-node-exporter (Debian's package) on
// a free loopback port with only the textfile collector, reading dir, and
// returns a scrape function. It is stopped, by pid, when the test ends.
func nodeExporter(t *testing.T, dir string) func() map[string]*dto.MetricFamily {
	t.Helper()
	bin, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		t.Fatalf("the metrics test needs Debian's prometheus-node-exporter: %v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.disable-defaults",
		"--collector.textfile", "--collector.textfile.directory="+dir)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://" + addr + "/metrics"
	return func() map[string]*dto.MetricFamily {
		t.Helper()
		var last error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				cancel()
				last = err
				continue
			}
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(resp.Body)
			resp.Body.Close()
			cancel()
			if err != nil {
				t.Fatalf("scrape %s: %v", url, err)
			}
			return fams
		}
		t.Fatalf("node_exporter at %s never answered: %v", url, last)
		return nil
	}
}

// gauge is the value of the series of name whose labels include want.
func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam := fams[name]
	if fam == nil {
		t.Fatalf("node_exporter serves no %s", name)
	}
next:
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no %s%v among %v", name, want, fam.GetMetric())
	return 0
}

// Every applying run writes its metrics for node_exporter's textfile
// collector; the real node_exporter serves them: after a cutover, a no-op,
// a blocked run and a failed run.
func TestMetricsThroughNodeExporter(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	dir := filepath.Join(b.dir, "textfile")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prom := filepath.Join(dir, "parachute.prom")
	scrape := nodeExporter(t, dir)
	home := map[string]string{"home": b.home}
	with := func(k, v string) map[string]string { return map[string]string{"home": b.home, k: v} }

	r := b.parachute("reconcile", "--desired", "supervised", "--textfile", prom)
	if r.code != 0 {
		t.Fatalf("cutover: %s", describe(r))
	}
	m := scrape()
	if gauge(t, m, "parachute_reconcile_converged", with("desired", "supervised")) != 1 ||
		gauge(t, m, "parachute_reconcile_changed", home) != 1 ||
		gauge(t, m, "parachute_reconcile_steps_applied", home) < 5 ||
		gauge(t, m, "parachute_reconcile_module_state", map[string]string{"home": b.home, "module": "vault", "state": "up"}) != 1 {
		t.Errorf("after the cutover: %v", m)
	}
	converged := gauge(t, m, "parachute_reconcile_last_converged_timestamp_seconds", home)

	r = b.parachute("reconcile", "--desired", "supervised", "--textfile", prom)
	m = scrape()
	if r.code != 0 || gauge(t, m, "parachute_reconcile_changed", home) != 0 || gauge(t, m, "parachute_reconcile_steps_applied", home) != 0 ||
		gauge(t, m, "parachute_reconcile_outcome", with("outcome", "converged")) != 1 {
		t.Errorf("after a no-op (exit %d): %v", r.code, m)
	}
	if now := gauge(t, m, "parachute_reconcile_last_converged_timestamp_seconds", home); now <= converged {
		t.Errorf("a converged no-op did not move last converged: %v, was %v", now, converged)
	} else {
		converged = now
	}

	// Blocked: a drop-in that breaks the start, with the unit stopped.
	b.mustRun("systemctl", "stop", hubUnit)
	dropIn := b.in.HostPath("/etc/systemd/system/" + hubUnit + ".d")
	if err := os.MkdirAll(dropIn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropIn, "broken.conf"), []byte("[Service]\nExecStartPre=/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = b.parachute("reconcile", "--desired", "supervised", "--textfile", prom)
	m = scrape()
	if r.code != 3 || gauge(t, m, "parachute_reconcile_outcome", with("outcome", "blocked")) != 1 ||
		gauge(t, m, "parachute_reconcile_blockers", home) < 1 || gauge(t, m, "parachute_reconcile_exit_code", home) != 3 ||
		gauge(t, m, "parachute_reconcile_converged", with("desired", "supervised")) != 0 {
		t.Errorf("after a blocked run (exit %d): %v", r.code, m)
	}
	if got := gauge(t, m, "parachute_reconcile_last_converged_timestamp_seconds", home); got != converged {
		t.Errorf("last converged moved on a blocked run: %v, was %v", got, converged)
	}
	if err := os.Remove(filepath.Join(dropIn, "broken.conf")); err != nil {
		t.Fatal(err)
	}

	// Failed: a hub that exits at once.
	b.layout("  env: {STANDIN_HUB_FAIL: \"1\"}\n" + fastTimeouts)
	r = b.parachute("reconcile", "--desired", "supervised", "--textfile", prom)
	m = scrape()
	if r.code != 1 || gauge(t, m, "parachute_reconcile_outcome", with("outcome", "failed")) != 1 || gauge(t, m, "parachute_reconcile_exit_code", home) != 1 {
		t.Errorf("after a failed run (exit %d): %s", r.code, fmtFamilies(m))
	}
}

func fmtFamilies(m map[string]*dto.MetricFamily) string {
	var b strings.Builder
	for name, f := range m {
		if strings.HasPrefix(name, "parachute_") {
			for _, s := range f.GetMetric() {
				fmt.Fprintf(&b, "%s %v %v\n", name, s.GetLabel(), s.GetGauge().GetValue())
			}
		}
	}
	return b.String()
}

// The timer: install writes, enables and starts parachute-reconcile.timer
// in the sandbox's system manager; its service converges a detached-era box
// and logs to the journal with structured fields; a converged box costs one
// journal entry per run (none with --quiet, which the timer passes); remove
// takes it all away.
func TestTimerKeepsTheBoxConverged(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	out := b.mustRun(b.bins.parachute, "timer", "install", "--home", b.home, "--spec", b.spec)
	if !strings.Contains(out, "installed") {
		t.Fatalf("timer install: %s", out)
	}
	if out := b.mustRun(b.bins.parachute, "timer", "install", "--home", b.home, "--spec", b.spec); !strings.Contains(out, "unchanged") {
		t.Errorf("a second install: %s", out)
	}
	for _, q := range [][2]string{{"is-enabled", "enabled"}, {"is-active", "active"}} {
		if got := strings.TrimSpace(b.mustRun("systemctl", q[0], "parachute-reconcile.timer")); got != q[1] {
			t.Errorf("timer %s = %s", q[0], got)
		}
	}
	// Run the service now rather than wait for the minute.
	b.mustRun("systemctl", "start", "parachute-reconcile.service")
	if r := b.parachute("reconcile", "--desired", "supervised", "--plan"); r.code != 0 || !r.doc.Converged {
		t.Fatalf("the timer's run did not converge the box: %s\njournal:\n%s", describe(r), b.mustRun("journalctl", "-u", "parachute-reconcile.service", "--no-pager"))
	}
	fields := b.mustRun("journalctl", "-u", "parachute-reconcile.service", "-o", "json", "--no-pager")
	if !strings.Contains(fields, `"PARACHUTE_OUTCOME":"converged"`) || !strings.Contains(fields, `"PARACHUTE_CHANGED":"true"`) {
		t.Errorf("no structured result in the journal:\n%s", fields)
	}
	// Entries the reconciler itself wrote (systemd's own start and finish
	// lines carry no _PID of ours and no PARACHUTE_ field).
	ours := func() int {
		n := 0
		for _, line := range strings.Split(b.mustRun("journalctl", "-u", "parachute-reconcile.service", "-o", "json", "--no-pager"), "\n") {
			if strings.Contains(line, `"_COMM":"parachute"`) || strings.Contains(line, `"PARACHUTE_`) {
				n++
			}
		}
		return n
	}
	before := ours()
	if before == 0 {
		t.Fatal("the converging run wrote no journal entry of its own")
	}
	b.mustRun("systemctl", "start", "parachute-reconcile.service")
	if added := ours() - before; added != 0 {
		t.Errorf("a converged run under the timer (--quiet) wrote %d journal entries", added)
	}
	// What a converged box costs per run, as cron would capture it:
	// nothing with --quiet; the text or one JSON line otherwise.
	for _, args := range [][]string{{"--quiet"}, {}, {"--output", "json"}} {
		argv := append([]string{b.bins.parachute, "reconcile", "--home", b.home, "--spec", b.spec}, args...)
		out, err := b.run(argv...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		t.Logf("a converged run %v prints %d bytes, %d lines (%d bytes a day at one run a minute)", args, len(out), strings.Count(out, "\n"), 1440*len(out))
		if len(args) == 1 && len(out) != 0 {
			t.Errorf("--quiet on a converged box printed %q", out)
		}
	}
	if out := b.mustRun(b.bins.parachute, "timer", "remove"); !strings.Contains(out, "removed") {
		t.Errorf("timer remove: %s", out)
	}
	for _, f := range []string{"parachute-reconcile.timer", "parachute-reconcile.service"} {
		if _, err := os.Lstat(b.in.HostPath("/etc/systemd/system/" + f)); !os.IsNotExist(err) {
			t.Errorf("%s still on disk after remove: %v", f, err)
		}
		// The removal's one reload, after the files went, made the manager
		// forget the unit: nothing of it is left to trigger.
		if got := strings.TrimSpace(b.mustRun("systemctl", "show", "-P", "LoadState", f)); got != "not-found" {
			t.Errorf("%s: LoadState %q after remove, want not-found", f, got)
		}
	}
	if out := b.mustRun(b.bins.parachute, "timer", "remove"); !strings.Contains(out, "not installed") {
		t.Errorf("a second remove: %s", out)
	}
}

// timer install and remove finish what an earlier run left half done: an
// install link removed behind the manager's back (which, not reloaded,
// still reports the timer enabled) is made again; a unit file written by a
// run that failed before its reload is loaded; and a remove that deleted
// the timer's file but not its service's (the timer then no longer loaded,
// its link dangling) removes the rest, as it does when the timer's file
// and link were deleted by hand behind a manager still running it.
func TestTimerResumesAHalfDoneChange(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	install := func() string {
		return b.mustRun(b.bins.parachute, "timer", "install", "--home", b.home, "--spec", b.spec)
	}
	show := func(prop, unit string) string {
		return strings.TrimSpace(b.mustRun("systemctl", "show", "-P", prop, unit))
	}
	if out := install(); !strings.Contains(out, "installed") {
		t.Fatalf("timer install: %s", out)
	}
	link := b.in.HostPath("/etc/systemd/system/timers.target.wants/parachute-reconcile.timer")
	if err := os.Remove(link); err != nil {
		t.Fatalf("the install link: %v", err)
	}
	install()
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("install did not make the missing link again: %v", err)
	}
	if got := strings.TrimSpace(b.mustRun("systemctl", "is-enabled", "parachute-reconcile.timer")); got != "enabled" {
		t.Errorf("is-enabled %q after the install", got)
	}

	// The manager loads other content, then the file gets the right bytes
	// back without a reload: what a run that wrote it and then failed
	// leaves.
	svc := b.in.HostPath("/etc/systemd/system/parachute-reconcile.service")
	want, err := os.ReadFile(svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svc, append(slices.Clone(want), "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	b.mustRun("systemctl", "daemon-reload")
	if err := os.WriteFile(svc, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := show("NeedDaemonReload", "parachute-reconcile.service"); got != "yes" {
		t.Fatalf("NeedDaemonReload %q before the install, want yes", got)
	}
	install()
	if got := show("NeedDaemonReload", "parachute-reconcile.service"); got != "no" {
		t.Errorf("NeedDaemonReload %q after the install: the file on disk is not what the manager runs", got)
	}

	if err := os.Remove(b.in.HostPath("/etc/systemd/system/parachute-reconcile.timer")); err != nil {
		t.Fatal(err)
	}
	b.mustRun("systemctl", "daemon-reload")
	if out := b.mustRun(b.bins.parachute, "timer", "remove"); !strings.Contains(out, "removed") {
		t.Errorf("timer remove of what was left: %s", out)
	}
	if _, err := os.Lstat(svc); !os.IsNotExist(err) {
		t.Errorf("the timer's service is still on disk: %v", err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("the timer's install link is still there: %v", err)
	}
	if got := show("ActiveState", "parachute-reconcile.timer"); got != "inactive" {
		t.Errorf("the timer is %s after the remove", got)
	}
	if out := b.mustRun(b.bins.parachute, "timer", "remove"); !strings.Contains(out, "not installed") {
		t.Errorf("a second remove: %s", out)
	}

	// The timer's file and link deleted by hand, no reload: the manager
	// still runs it, and answers the disable with NoSuchUnit (nothing left
	// to unlink), which remove must take for "done", not a failure.
	if out := install(); !strings.Contains(out, "installed") {
		t.Fatalf("timer install again: %s", out)
	}
	for _, p := range []string{link, b.in.HostPath("/etc/systemd/system/parachute-reconcile.timer")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if got := show("ActiveState", "parachute-reconcile.timer"); got != "active" {
		t.Fatalf("the timer is %s with its file deleted, want still active", got)
	}
	if out := b.mustRun(b.bins.parachute, "timer", "remove"); !strings.Contains(out, "removed") {
		t.Errorf("timer remove of a timer deleted by hand: %s", out)
	}
	if got := show("LoadState", "parachute-reconcile.timer"); got != "not-found" {
		t.Errorf("LoadState %q after the remove, want not-found", got)
	}
	if _, err := os.Lstat(svc); !os.IsNotExist(err) {
		t.Errorf("the timer's service is still on disk: %v", err)
	}
}

// A re-install that changes the schedule takes effect without restarting
// the timer: the reload re-arms a waiting timer with the new settings (the
// timer is not started again: its ActiveEnterTimestamp stays). The realtime
// elapse falls on the minute without a randomized delay, and off it, with
// all but certainty, with one of 59 s.
func TestTimerReinstallReschedules(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	install := func(delay string) string {
		return b.mustRun(b.bins.parachute, "timer", "install", "--home", b.home, "--spec", b.spec, "--delay", delay)
	}
	prop := func(iface, name string) uint64 {
		out := strings.Fields(b.mustRun("busctl", "get-property", "org.freedesktop.systemd1",
			"/org/freedesktop/systemd1/unit/parachute_2dreconcile_2etimer", "org.freedesktop.systemd1."+iface, name))
		if len(out) != 2 || out[0] != "t" {
			t.Fatalf("%s.%s: %q", iface, name, out)
		}
		v, err := strconv.ParseUint(out[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// While the timer's service runs (OnBootSec=, or a minute passing)
	// the timer has no next elapse (2^64-1) and a reload does not re-arm
	// it; it is armed, with what it loaded, when the service ends. Each
	// reading waits for the timer to be waiting.
	next := func() uint64 {
		deadline := time.Now().Add(2 * time.Minute)
		for strings.TrimSpace(b.mustRun("systemctl", "show", "-P", "SubState", "parachute-reconcile.timer")) != "waiting" {
			if time.Now().After(deadline) {
				t.Fatal("the timer is not waiting after two minutes")
			}
			time.Sleep(100 * time.Millisecond)
		}
		v := prop("Timer", "NextElapseUSecRealtime")
		if v == math.MaxUint64 || v == 0 {
			t.Fatalf("a waiting timer with no next elapse (%d)", v)
		}
		return v
	}
	onTheMinute := func() bool { return next()%60_000_000 == 0 }
	if out := install("0"); !strings.Contains(out, "installed") {
		t.Fatalf("timer install: %s", out)
	}
	entered := prop("Unit", "ActiveEnterTimestampMonotonic")
	if !onTheMinute() {
		t.Fatalf("without a delay the next elapse %d is not on the minute", next())
	}
	for _, step := range []struct {
		delay  string
		random uint64
		onMin  bool
	}{{"59", 59_000_000, false}, {"0", 0, true}} {
		if out := install(step.delay); strings.Contains(out, "unchanged") {
			t.Fatalf("install --delay %s: %s", step.delay, out)
		}
		if got := prop("Timer", "RandomizedDelayUSec"); got != step.random {
			t.Errorf("--delay %s: RandomizedDelayUSec %d, want %d", step.delay, got, step.random)
		}
		if got := onTheMinute(); got != step.onMin {
			t.Errorf("--delay %s: next elapse %d on the minute %t, want %t: the timer was not re-armed", step.delay, next(), got, step.onMin)
		}
		if got := prop("Unit", "ActiveEnterTimestampMonotonic"); got != entered {
			t.Errorf("--delay %s: the timer was started again (entered active at %d, before at %d)", step.delay, got, entered)
		}
	}
}

// A detached box is never started from the reconciler's own oneshot
// units: systemd would kill the hub when the run ends. timer install
// refuses --desired detached, and a run inside parachute-reconcile*.service
// that would start a detached hub is blocked (exit 3) with nothing stopped.
func TestNoDetachedBoxFromTheTimer(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	b.detachedEra()
	before := b.boxProcs()
	out, err := b.run(b.bins.parachute, "timer", "install", "--home", b.home, "--spec", b.spec, "--desired", "detached")
	if err == nil || !strings.Contains(out, "cannot keep a box detached") {
		t.Errorf("timer install --desired detached: %v\n%s", err, out)
	}
	if _, err := os.Lstat(b.in.HostPath("/etc/systemd/system/parachute-reconcile.timer")); !os.IsNotExist(err) {
		t.Errorf("the refused install wrote the timer: %v", err)
	}
	// A run as the timer's service would make it. --pipe hands the run's
	// output and exit status straight back (the journal may not have
	// them yet when systemd-run returns).
	out, err = b.run("systemd-run", "--wait", "--pipe", "--collect", "--quiet", "--unit", "parachute-reconcile-e2e.service",
		"-p", "Type=oneshot", b.bins.parachute, "reconcile", "--home", b.home, "--spec", b.spec, "--desired", "detached")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "would be killed at once") {
		t.Errorf("the run inside parachute-reconcile-e2e.service did not exit 3 (blocked) naming why: %v\n%s", err, out)
	}
	b.untouched(t, before, "the blocked run")
}

// ansiblePlay runs the role with Debian's ansible-playbook inside the
// sandbox (connection local, as root), with the JSON callback, and returns
// the play's stats for localhost and every failure message.
func (b *box) ansiblePlay(t *testing.T, check bool, extra map[string]any) (stats map[string]float64, failures []string) {
	t.Helper()
	ap, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Fatalf("the Ansible test needs Debian's ansible-core: %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(b.spec)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{
		"parachute_reconcile_src":     b.bins.parachute,
		"parachute_reconcile_bin":     filepath.Join(b.dir, "installed", "parachute-reconcile"),
		"parachute_reconcile_home":    b.home,
		"parachute_reconcile_spec":    string(spec),
		"parachute_reconcile_timer":   false, // its own test; a timer run here would race the plays
		"parachute_reconcile_desired": "supervised",
	}
	for k, v := range extra {
		vars[k] = v
	}
	play := []map[string]any{{"hosts": "localhost", "gather_facts": false, "roles": []map[string]any{{"role": "parachute_reconcile", "vars": vars}}}}
	data, _ := json.Marshal(play)
	pb := filepath.Join(b.dir, "play.yml")
	if err := os.WriteFile(pb, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(b.dir, "installed"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The role is copied into the box's work directory: the sandbox sees
	// that, not necessarily the checkout (a clone under /tmp is hidden by
	// the sandbox's private /tmp).
	roles := filepath.Join(b.dir, "roles")
	if _, err := os.Stat(roles); os.IsNotExist(err) {
		if err := os.CopyFS(roles, os.DirFS(filepath.Join(root, "deploy", "ansible", "roles"))); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(b.dir, "ansible-tmp")
	argv := []string{"env", "ANSIBLE_ROLES_PATH=" + roles,
		"ANSIBLE_HOME=" + tmp, "ANSIBLE_LOCAL_TEMP=" + tmp, "ANSIBLE_REMOTE_TEMP=" + tmp, "ANSIBLE_NOCOLOR=1",
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3", "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_INVENTORY_UNPARSED_WARNING=false",
		ap, "-i", "localhost,", "-c", "local", pb}
	if check {
		argv = append(argv, "--check")
	}
	out, _ := b.runOut(argv...)
	// The default callback: "fatal: [localhost]: FAILED! => {json}" per
	// failed task, then the recap line
	// "localhost : ok=5 changed=1 unreachable=0 failed=0 skipped=2 …".
	stats = map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "fatal: [localhost]: FAILED! => "); ok {
			var v struct{ Msg any }
			_ = json.Unmarshal([]byte(rest), &v)
			failures = append(failures, fmt.Sprint(v.Msg))
		}
		if strings.HasPrefix(line, "localhost") && strings.Contains(line, " ok=") {
			for _, f := range strings.Fields(line) {
				if k, v, ok := strings.Cut(f, "="); ok {
					var n float64
					fmt.Sscan(v, &n)
					stats[k] = n
				}
			}
		}
	}
	if _, ok := stats["ok"]; !ok {
		t.Fatalf("ansible-playbook printed no recap:\n%s", out)
	}
	stats["failures"] = stats["failed"]
	t.Logf("ansible-playbook (check=%v): %v %q", check, stats, failures)
	return stats, failures
}

// The role against a detached-era box under the sandboxed systemd: check
// mode changes nothing and reports changed; the real run converges and
// reports changed; a second run reports ok; a squatter fails the play with
// the blocker's text.
func TestAnsibleRole(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	sum := b.layout(fastTimeouts, "--start", "--wrapper", "scribe")
	old := boxPids(b.observe())
	before := b.procs(old...)

	stats, fails := b.ansiblePlay(t, true, nil)
	if stats["changed"] < 1 || stats["failures"] != 0 || len(fails) > 0 {
		t.Fatalf("check mode: stats %v, failures %q", stats, fails)
	}
	b.untouched(t, before, "check mode")
	if _, err := os.Lstat(b.in.HostPath(b.unitPath(hubUnit))); !os.IsNotExist(err) {
		t.Errorf("check mode wrote the hub unit: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(b.dir, "installed", "parachute-reconcile")); !os.IsNotExist(err) {
		t.Errorf("check mode installed the binary: %v", err)
	}

	// Installed but not converged: check mode plans (--plan, exit 2) and
	// reports changed, still changing nothing.
	b.mustRun("install", "-m", "0755", b.bins.parachute, filepath.Join(b.dir, "installed", "parachute-reconcile"))
	b.mustRun("cp", b.spec, filepath.Join(b.home, "reconcile.yaml"))
	stats, fails = b.ansiblePlay(t, true, nil)
	if stats["changed"] < 1 || stats["failures"] != 0 || len(fails) > 0 {
		t.Fatalf("check mode, installed: stats %v, failures %q", stats, fails)
	}
	b.untouched(t, before, "check mode (installed)")

	stats, fails = b.ansiblePlay(t, false, nil)
	if stats["changed"] < 1 || stats["failures"] != 0 || len(fails) > 0 {
		t.Fatalf("real run: stats %v, failures %q", stats, fails)
	}
	b.checkSupervised(old)

	stats, fails = b.ansiblePlay(t, false, nil)
	if stats["changed"] != 0 || stats["failures"] != 0 || len(fails) > 0 {
		t.Errorf("second run: stats %v, failures %q (want ok, nothing changed)", stats, fails)
	}

	vault := moduleOf(t, sum, "vault")
	b.mustRun("systemctl", "stop", hubUnit)
	b.waitFree(vault.Port)
	stranger := b.startStranger(httpServer(vault.Port)...)
	b.waitListening(vault.Port)
	stats, fails = b.ansiblePlay(t, false, nil)
	joined := strings.Join(fails, "\n")
	if stats["failures"] < 1 || !strings.Contains(joined, "blocked (exit 3)") || !strings.Contains(joined, fmt.Sprint(stranger)) {
		t.Errorf("squatter: stats %v, failures %q; want the play failed with the blocker naming pid %d", stats, fails, stranger)
	}
	if !b.alive(stranger) {
		t.Error("the squatter was stopped")
	}

	// A timer cannot keep a detached box: the play refuses before it
	// changes anything.
	stats, fails = b.ansiblePlay(t, false, map[string]any{"parachute_reconcile_desired": "detached", "parachute_reconcile_timer": true})
	if stats["failures"] < 1 || !strings.Contains(strings.Join(fails, "\n"), "cannot keep a box detached") {
		t.Errorf("desired detached with the timer: stats %v, failures %q; want the play refused", stats, fails)
	}
}
