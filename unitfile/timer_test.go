package unitfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The timer and its service pass systemd-analyze verify, in both scopes,
// and systemd reads back the exact command line, including a home with a
// space and a '%'.
func TestTimerVerifies(t *testing.T) {
	for _, system := range []bool{true, false} {
		dir := t.TempDir()
		exe := filepath.Join(dir, "parachute")
		if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		home := "/srv/my box/100%"
		argv := []string{exe, "reconcile", "--home", home, "--quiet", "--textfile", "/var/lib/prometheus/node-exporter/parachute.prom"}
		svc, tim, err := RenderTimer(Timer{Argv: argv, Home: home, SystemUnit: system, RandomizedDelay: 20})
		if err != nil {
			t.Fatal(err)
		}
		svcPath, timPath := filepath.Join(dir, TimerServiceName), filepath.Join(dir, TimerName)
		if err := os.WriteFile(svcPath, svc, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(timPath, tim, 0o644); err != nil {
			t.Fatal(err)
		}
		views, err := analyze(t, dir, !system, svcPath, timPath)
		if err != nil {
			t.Fatalf("system=%v: %v\n%s\n%s", system, err, svc, tim)
		}
		if v := views[TimerServiceName]; v == nil || strings.Join(v.Argv, "\x00") != strings.Join(argv, "\x00") {
			t.Errorf("system=%v: systemd reads the command as %q, want %q", system, v.Argv, argv)
		}
		for name, v := range views {
			if len(v.Reports) > 0 {
				t.Errorf("system=%v: %s: %v", system, name, v.Reports)
			}
		}
		text := string(tim)
		for _, want := range []string{"OnCalendar=minutely", "Persistent=true", "RandomizedDelaySec=20", "WantedBy=timers.target"} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("timer lacks %s:\n%s", want, text)
			}
		}
		boot := "OnStartupSec=15s"
		if system {
			boot = "OnBootSec=15s"
		}
		if !strings.Contains(text, boot+"\n") {
			t.Errorf("system=%v: timer lacks %s:\n%s", system, boot, text)
		}
		if !strings.Contains(string(svc), "Type=oneshot\n") || !strings.Contains(string(svc), "SuccessExitStatus=75\n") {
			t.Errorf("service:\n%s", svc)
		}
	}
}

func TestTimerRefusesBadInput(t *testing.T) {
	for _, tc := range []Timer{
		{},
		{Argv: []string{"relative/parachute", "reconcile"}, Home: "/h"},
		{Argv: []string{"/usr/bin/parachute", "reconcile"}, Home: "/h\nExecStartPre=/bin/false"},
	} {
		if _, _, err := RenderTimer(tc); err == nil {
			t.Errorf("RenderTimer(%+v) rendered", tc)
		}
	}
}
