package procfs

import (
	"strings"
	"testing"
)

func statLine(pid, comm, rest string) []byte {
	return []byte(pid + " (" + comm + ") " + rest + "\n")
}

// fields 3..22 with ppid 7, pgrp 8, session 9 and starttime 12345.
const statRest = "S 7 8 9 0 -1 4194560 100 0 0 0 12 3 0 0 20 0 1 0 12345 10000000 500 0 0 0"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Stat
		wantErr bool
	}{
		{"plain", statLine("42", "bun", statRest), Stat{Pid: 42, Comm: "bun", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm with ) ( inside", statLine("42", "a) (b", statRest), Stat{Pid: 42, Comm: "a) (b", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm ending in )", statLine("42", "x) Z 1 1 1", statRest), Stat{Pid: 42, Comm: "x) Z 1 1 1", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"comm with spaces", statLine("5", "Web Content", strings.Replace(statRest, "S", "Z", 1)), Stat{Pid: 5, Comm: "Web Content", State: "Z", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"empty comm", statLine("5", "", statRest), Stat{Pid: 5, Comm: "", State: "S", PPid: 7, Pgid: 8, Sid: 9, StartTicks: 12345}, false},
		{"no parens", []byte("42 bun S 1 1 1"), Stat{}, true},
		{"truncated", statLine("42", "bun", "S 7 8 9 0"), Stat{}, true},
		{"bad pid", statLine("x", "bun", statRest), Stat{}, true},
		{"bad starttime", statLine("42", "bun", strings.Replace(statRest, "12345", "-1", 1)), Stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStat(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCgroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-hub.service\n", "/user.slice/user-1000.slice/user@1000.service/app.slice/parachute-hub.service"},
		{"12:pids:/user.slice\n1:name=systemd:/system.slice/parachute-hub.service\n0::/system.slice/parachute-hub.service\n", "/system.slice/parachute-hub.service"},
		{"12:pids:/user.slice\n3:cpu,cpuacct:/x\n1:name=systemd:/user.slice/session-3.scope\n", "/user.slice/session-3.scope"},
		{"0::/odd:path:with:colons\n", "/odd:path:with:colons"},
		{"garbage\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ParseCgroup([]byte(tt.in)); got != tt.want {
			t.Errorf("ParseCgroup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
