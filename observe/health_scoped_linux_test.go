package observe

import (
	"github.com/parachute/reconcile/internal/procfs"

	"context"
	"net"
	"net/http"
	"os"
	"testing"
)

// A real server in this process, in this process's control group: the
// scoped probe finds it among the group's members; a group that does not
// exist falls back to the walk over every process and finds it too.
func TestProbeHealthInFindsTheServerInItsCgroup(t *testing.T) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	own := procfs.ParseCgroup(data)
	if own == "" {
		t.Skip("no cgroup path")
	}
	if dir, err := cgroupDir(own); err != nil {
		t.Skipf("cgroup %s not reachable: %v", own, err)
	} else if m, err := cgroupMembers(dir); err != nil || len(m) == 0 {
		t.Skipf("cgroup %s members unreadable: %v", dir, err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"service":"hub"}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	o := New(Env{})
	env := o.Env.withDefaults()
	h, hc := checkHealth(context.Background(), env, port)
	if !h.OK {
		t.Fatalf("health: %+v", h)
	}
	if got := answeredInCgroup(env, port, hc, own); got != os.Getpid() {
		t.Errorf("answeredInCgroup(%s) = %d, want this process %d", own, got, os.Getpid())
	}
	if got := answeredInCgroup(env, port, hc, own+"/no-such-group"); got != 0 {
		t.Errorf("answeredInCgroup of a missing group = %d, want 0", got)
	}
	hc.close()

	for _, cg := range []string{own, "/no-such-group.slice/x.service", ""} {
		ok, by, err := o.ProbeHealthIn(context.Background(), port, cg)
		if err != nil || !ok || by != os.Getpid() {
			t.Errorf("ProbeHealthIn(%q) = %v, %d, %v; want true, %d", cg, ok, by, err, os.Getpid())
		}
	}
	srv.Close()
	if ok, by, err := o.ProbeHealthIn(context.Background(), port, own); err == nil || ok || by != 0 {
		t.Errorf("refused: ProbeHealthIn = %v, %d, %v; want an error", ok, by, err)
	}
}

func TestParseMountinfoFindsCgroupMounts(t *testing.T) {
	for _, c := range []struct {
		line string
		want mountEntry
		ok   bool
	}{
		{"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw", mountEntry{"/", "/sys/fs/cgroup/unified", "cgroup2", "rw"}, true},
		{"39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,xattr,name=systemd", mountEntry{"/", "/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"}, true},
		{`41 30 0:38 /sub\040dir /mnt/a\134b rw - cgroup2 none rw`, mountEntry{"/sub dir", `/mnt/a\b`, "cgroup2", "rw"}, true},
		{"41 30 0:38 / /x rw no-separator cgroup2 none rw", mountEntry{}, false},
		{"short line", mountEntry{}, false},
	} {
		got, ok := parseMountinfo([]byte(c.line))
		if ok != c.ok || got != c.want {
			t.Errorf("parseMountinfo(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		m      mountEntry
		cgroup string
		dir    string
		ok     bool
	}{
		{mountEntry{root: "/", point: "/sys/fs/cgroup"}, "/system.slice/parachute-hub.service", "/sys/fs/cgroup/system.slice/parachute-hub.service", true},
		{mountEntry{root: "/..", point: "/sys/fs/cgroup/unified"}, "/system.slice/parachute-hub.service", "", false},
		{mountEntry{root: "/user.slice", point: "/mnt/cg"}, "/user.slice/user-1000.slice/x.service", "/mnt/cg/user-1000.slice/x.service", true},
		{mountEntry{root: "/user.slice", point: "/mnt/cg"}, "/system.slice/x.service", "", false},
		{mountEntry{root: "/", point: "/sys/fs/cgroup"}, "/a/../../etc", "", false},
	} {
		dir, ok := dirUnder(c.m, c.cgroup)
		if dir != c.dir || ok != c.ok {
			t.Errorf("dirUnder(%+v, %q) = %q, %v; want %q, %v", c.m, c.cgroup, dir, ok, c.dir, c.ok)
		}
	}
	if !hasOption("rw,name=systemd", "name=systemd") || hasOption("rw,name=systemdx", "name=systemd") {
		t.Error("hasOption")
	}
}
