package examples

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"sigs.k8s.io/yaml"

	"github.com/parachute/reconcile/spec"
)

func TestSpecYAMLHasEveryKeyAndPassesTheReconcilersParser(t *testing.T) {
	data, err := os.ReadFile("spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every key of docs/design.md's spec file, no other: a strict decode into its
	// shape, then a check that none was left out.
	var doc struct {
		Desired *string `json:"desired"`
		Home    *string `json:"home"`
		Hub     *struct {
			Port    *int              `json:"port"`
			Command []string          `json:"command"`
			Env     map[string]string `json:"env"`
		} `json:"hub"`
		Manager  *string `json:"manager"`
		Scope    *string `json:"scope"`
		Timeouts *struct {
			Stop     *string `json:"stop"`
			PortFree *string `json:"portFree"`
			Healthy  *string `json:"healthy"`
		} `json:"timeouts"`
	}
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		t.Fatalf("spec.yaml has a key docs/design.md does not: %v", err)
	}
	if doc.Desired == nil || doc.Home == nil || doc.Hub == nil || doc.Hub.Port == nil || doc.Hub.Command == nil ||
		doc.Hub.Env == nil || doc.Manager == nil || doc.Scope == nil || doc.Timeouts == nil ||
		doc.Timeouts.Stop == nil || doc.Timeouts.PortFree == nil || doc.Timeouts.Healthy == nil {
		t.Fatalf("spec.yaml leaves a key out: %+v", doc)
	}

	// The reconciler's own strict parser accepts it, with these values.
	f, err := spec.ParseFile("spec.yaml", data)
	if err != nil {
		t.Fatalf("spec.ParseFile: %v", err)
	}
	want := spec.File{
		Path:    "spec.yaml",
		Desired: spec.Supervised,
		Home:    "/home/op/.parachute",
		Hub: spec.FileHub{
			Port:    1939,
			Command: []string{"/home/op/.bun/bin/bun", "/home/op/.bun/install/global/node_modules/@openparachute/hub/src/cli.ts", "serve"},
			Env:     map[string]string{"TZ": "Europe/Berlin"},
		},
		Manager:  spec.ManagerAuto,
		Scope:    spec.ScopeAuto,
		Timeouts: spec.FileTimeouts{Stop: 15 * time.Second, PortFree: 15 * time.Second, Healthy: 30 * time.Second},
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("spec.ParseFile:\n got %+v\nwant %+v", f, want)
	}
}

func TestBootUnitIsAOneshotReconcileAfterTheNetwork(t *testing.T) {
	fh, err := os.Open("boot/parachute-reconcile-boot.service")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	opts, err := unit.DeserializeOptions(fh)
	if err != nil {
		t.Fatalf("the boot unit does not parse: %v", err)
	}
	values := map[string][]string{}
	for _, o := range opts {
		key := o.Section + "." + o.Name
		values[key] = append(values[key], o.Value)
	}
	for key, want := range map[string][]string{
		"Unit.After":              {"network-online.target", "parachute-hub.service"},
		"Unit.Wants":              {"network-online.target"},
		"Service.Type":            {"oneshot"},
		"Service.TimeoutStartSec": {"6min"},
		"Install.WantedBy":        {"multi-user.target"},
	} {
		if !reflect.DeepEqual(values[key], want) {
			t.Errorf("%s = %q, want %q", key, values[key], want)
		}
	}
	execStart := values["Service.ExecStart"]
	if len(execStart) != 1 {
		t.Fatalf("ExecStart = %q, want one", execStart)
	}
	argv := strings.Fields(execStart[0])
	if !filepath.IsAbs(argv[0]) || filepath.Base(argv[0]) != "parachute" ||
		!reflect.DeepEqual(argv[1:], []string{"reconcile", "--until-converged", "--timeout", "5m"}) {
		t.Errorf("ExecStart = %q", execStart[0])
	}
	for _, key := range []string{"Service.User", "Service.Restart"} {
		if v, ok := values[key]; ok {
			t.Errorf("%s = %q: the root variant sets none", key, v)
		}
	}
}

func TestCrontabRunsTheReconcilerEveryMinute(t *testing.T) {
	fh, err := os.Open("cron/parachute-reconcile.crontab")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var jobs, env []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.Contains(strings.Fields(line)[0], "="):
			env = append(env, line)
		default:
			jobs = append(jobs, line)
		}
	}
	if len(jobs) != 1 {
		t.Fatalf("jobs %q, want exactly one", jobs)
	}
	f := strings.Fields(jobs[0])
	if len(f) < 6 || strings.Join(f[:5], " ") != "* * * * *" {
		t.Fatalf("schedule of %q is not every minute", jobs[0])
	}
	cmd := strings.Join(f[5:], " ")
	if !filepath.IsAbs(f[5]) || !strings.HasPrefix(strings.Join(f[6:], " "), "reconcile --desired supervised --output json >>") || !strings.HasSuffix(cmd, "2>&1") {
		t.Fatalf("command %q", cmd)
	}
	if strings.Contains(cmd, "%") || strings.Contains(cmd, "flock") {
		t.Fatalf("command %q: cron turns %% into newlines, and the tool locks itself", cmd)
	}
	if len(env) != 1 || !strings.HasPrefix(env[0], "PATH=") || !strings.Contains(env[0], "/.bun/bin") {
		t.Fatalf("environment lines %q, want a PATH with bun's bin", env)
	}
}

func TestBuildScriptBuildsTheThreePrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "build.sh", filepath.Join(out, "bin"))
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, msg)
	}
	if got := strings.TrimSpace(string(msg)); got != filepath.Join(out, "bin") {
		t.Errorf("build.sh printed %q, want the bin directory", got)
	}
	for _, prog := range []string{"standin-hub", "standin-module", "layout"} {
		fi, err := os.Stat(filepath.Join(out, "bin", prog))
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: %v, mode %v", prog, err, fi.Mode())
		}
	}
}
