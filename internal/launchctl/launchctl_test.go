package launchctl

import (
	"reflect"
	"testing"
)

func TestParsePrint(t *testing.T) {
	out := `gui/501/computer.parachute.hub = {
	active count = 1
	path = /Users/o p/Library/LaunchAgents/computer.parachute.hub.plist
	state = running

	program = /Users/op/.bun/bin/bun
	arguments = {
		/Users/op/.bun/bin/bun
		/Users/o p/cli.ts
		serve
	}

	environment = {
		pid => 5
	}
	runs = 3
	pid = 4242
	last exit code = 78: EX_CONFIG
	endpoints = {
		"com.x" = {
			port = 0x1
			state = active
		}
	}
}
`
	want := Job{State: "running", PID: 4242, LastExitCode: 78, LastExitKnown: true,
		Path: "/Users/o p/Library/LaunchAgents/computer.parachute.hub.plist", Program: "/Users/op/.bun/bin/bun",
		Arguments: []string{"/Users/op/.bun/bin/bun", "/Users/o p/cli.ts", "serve"}}
	if got := ParsePrint(out); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := ParsePrint("state = not running\n\tlast exit code = (never exited)\n"); got.State != "not running" || got.LastExitKnown {
		t.Errorf("body only: %+v", got)
	}
	if got := ParsePrint(""); !reflect.DeepEqual(got, Job{}) {
		t.Errorf("empty: %+v", got)
	}
}

func TestParseDisabled(t *testing.T) {
	out := "disabled services = {\n\t\"computer.parachute.hub\" => disabled\n\t\"com.a\" => enabled\n\t\"com.old\" => true\n\t\"com.older\" => false\n}\n"
	want := map[string]bool{"computer.parachute.hub": true, "com.a": false, "com.old": true, "com.older": false}
	if got := ParseDisabled(out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

// LimitedBuffer keeps Max bytes, says it cut, and never fails a write.
func TestLimitedBuffer(t *testing.T) {
	b := LimitedBuffer{Max: 5}
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil || b.Cut {
		t.Fatalf("first write: %d %v cut=%v", n, err, b.Cut)
	}
	if n, err := b.Write([]byte("defgh")); n != 5 || err != nil {
		t.Fatalf("second write: %d %v", n, err)
	}
	if b.String() != "abcde" || !b.Cut {
		t.Errorf("kept %q, cut=%v; want abcde, true", b.String(), b.Cut)
	}
}
