package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/parachute/reconcile/observe"
	"github.com/parachute/reconcile/reconcile"
	"github.com/parachute/reconcile/spec"
)

func TestEsc(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "plain", "plain"},
		{"latin letters", "naïve café", "naïve café"},
		{"CJK", "日本", "日本"},
		{"replacement character itself", "a\uFFFDb", "a\uFFFDb"},
		{"no-break space", "a\u00a0b", "a\u00a0b"},
		{"ESC", "\x1b[31mRED", `\x1b[31mRED`},
		{"newline", "x\ny", `x\ny`},
		{"CR", "ok\r✓converged", `ok\r✓converged`},
		{"BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"tab", "a\tb", `a\tb`},
		{"NUL", "a\x00b", `a\x00b`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "\u009b31m", `\u009b31m`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"bidi override", "evil\u202egnp.exe", `evil\u202egnp.exe`},
		{"zero-width space", "a\u200bb", `a\u200bb`},
		{"byte-order mark", "\ufeffname", `\ufeffname`},
		{"invalid byte", "a\xffb", `a\xffb`},
		{"truncated rune", "a\xe6\x97", `a\xe6\x97`},
		{"UTF-16 surrogate as UTF-8", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"mixed", "日\x1b本\n\xff", `日\x1b本\n\xff`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := esc(tt.in)
			if got != tt.want {
				t.Errorf("esc(%q) = %q, want %q", tt.in, got, tt.want)
			}
			assertTerminalSafe(t, got)
		})
	}
}

// assertTerminalSafe fails when s holds anything esc must have escaped:
// invalid UTF-8, a C0 or C1 control, DEL, or a format character.
func assertTerminalSafe(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%q is not valid UTF-8", s)
		return
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || unicode.Is(unicode.Cf, r) {
			t.Errorf("%q holds raw %U", s, r)
			return
		}
	}
}

func TestPf(t *testing.T) {
	tests := []struct {
		name   string
		format string
		args   []any
		want   string
	}{
		{"string escaped, format newline kept", "%s\n", []any{"a\nb"}, "a\\nb\n"},
		{"error escaped", "%s: %v\n", []any{"x\x1b[2J", errors.New("e\x07\r")}, "x\\x1b[2J: e\\a\\r\n"},
		{"several format lines", "one\ntwo %s\nthree\n", []any{"ok"}, "one\ntwo ok\nthree\n"},
		{"numbers untouched", "pid %d port %-5d|%s\n", []any{4121, 1940, "\u202e"}, "pid 4121 port 1940 |\\u202e\n"},
		{"width applies to the escaped string", "[%-6s]", []any{"\x1b"}, "[\\x1b  ]"},
		{"no args", "plain\n", nil, "plain\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			pf(&b, tt.format, tt.args...)
			if got := b.String(); got != tt.want {
				t.Errorf("pf(%q, %q) = %q, want %q", tt.format, tt.args, got, tt.want)
			}
		})
	}
}

func TestRenderSnapshotEscapes(t *testing.T) {
	linger := true
	snap := observe.Snapshot{
		Home:    "/home/u/.parachute\x1b]0;t\x07",
		HubPort: 1939,
		Modules: []spec.Module{{Name: "parachute-vault", Short: "vault", Port: 1940}},
		Skipped: []spec.SkippedRow{
			{Index: 0, Name: "parachute-\x1b[31mRED", Port: 1950, Cause: spec.SkipUnsafe, Reason: "name contains control characters"},
			{Index: 1, Name: "x\ny", Port: 1951, Cause: spec.SkipUnsafe, Reason: "bad\rreason"},
		},
		Ports: []observe.Port{
			{Port: 1939, Owner: "hub", Short: "hub", Listeners: []observe.Listener{{Addr: "127.0.0.1:1939", Pids: []int{42}}}},
			{Port: 1940, Owner: "parachute-vault", Short: "vault"},
		},
		Processes: []observe.Process{{Pid: 42, User: "u\x1b[8m", Argv: []string{"/usr/bin/bun", "serve\u202e"}}},
		Pidfiles:  []observe.Pidfile{{Path: "/home/u/.parachute/hub/run/hub.pid", Pid: 42, State: observe.PidReused, Reason: "started\nlater"}},
		Unit: observe.Unit{Available: true, Name: "parachute-hub.service", Scope: "user", ActiveState: "active", SubState: "running",
			File: observe.UnitFile{Path: "/home/u/.config/systemd/user/parachute-hub.service", Exists: true}},
		StaleUnits: []observe.StaleUnit{{Name: "parachute-vault.service", Scope: "user", ActiveState: "inactive\x1b"}},
		Linger:     &linger,
		Health:     observe.Health{URL: "http://127.0.0.1:1939/health", Status: 200, Service: "parachute-hub\x1b[1m", Version: "0.7.15", AnsweredBy: 42},
		Idle: []observe.IdleModule{{Name: "parachute-vault", Short: "vault", Port: 1940, StartCmd: []string{"parachute-vault", "serve"},
			LastLog: "[supervisor] vault crashed 3x within 60000ms — giving up.\x1b]0;pwned\x07"}},
		Problems: []string{"hub log: \u009b31m \x9b"},
	}
	var b bytes.Buffer
	renderSnapshot(&b, snap)
	out := b.String()
	if i := strings.IndexByte(out, 0x1b); i >= 0 {
		t.Errorf("raw ESC at byte %d of:\n%s", i, out)
	}
	for _, want := range []string{
		"  skipped row 0 (parachute-\\x1b[31mRED): name contains control characters\n",
		"  skipped row 1 (x\\ny): bad\\rreason\n",
		"box: /home/u/.parachute\\x1b]0;t\\a — hub :1939",
		"    last supervisor line: [supervisor] vault crashed 3x within 60000ms — giving up.\\x1b]0;pwned\\a\n",
		"  problem: hub log: \\u009b31m \\x9b\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The "x\ny" name is on one line: no line of the output is just "y)…".
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "y)") {
			t.Errorf("the name \"x\\ny\" was split across lines: %q", line)
		}
		assertTerminalSafe(t, line)
	}
}

func TestRenderPlanEscapes(t *testing.T) {
	p := reconcile.Plan{
		Desired: "supervised",
		Outcome: reconcile.OutcomeFailed,
		Modules: []reconcile.ModuleReport{
			{Name: "parachute-vault", Short: "vault", Port: 1940, State: reconcile.ModuleUp, Evidence: "listening on 127.0.0.1:1940 (pid 5, under the hub)"},
			{Name: "parachute-notes", Short: "notes", Port: 1942, State: reconcile.ModuleBooting, Evidence: "not listening on :1942 yet"},
			{Name: "evil", Short: "evil\x1b[31m", Port: 1950, State: reconcile.ModuleGivenUp, Evidence: "[supervisor] evil crashed 3x within 60000ms — giving up.\u202e"},
		},
		Failure: &reconcile.Failure{
			Reason:  "the hub unit failed",
			Manager: "Result=exit-code, exit status 1\x07",
			HubLog:  []string{"[hub] starting", "\x1b]0;pwned\x07"},
			Journal: []string{"j\x1b[2J", "ok\rforged"},
			Fix:     "read the log",
		},
	}
	var b bytes.Buffer
	renderPlan(&b, p, observe.Snapshot{Home: "/h", HubPort: 1939}, "parachute reconcile")
	out := b.String()
	if i := strings.IndexAny(out, "\x1b\x07\r"); i >= 0 {
		t.Errorf("raw control byte %#x at %d of:\n%s", out[i], i, out)
	}
	for _, want := range []string{
		"\nModules:\n" +
			"  ✓ vault        :1940  up — listening on 127.0.0.1:1940 (pid 5, under the hub)\n" +
			"  … notes        :1942  booting — not listening on :1942 yet\n" +
			"  ✗ evil\\x1b[31m :1950  given-up — [supervisor] evil crashed 3x within 60000ms — giving up.\\u202e\n",
		"\nFailed — the hub unit failed\n" +
			"  manager: Result=exit-code, exit status 1\\a\n" +
			"  hub output (hub/logs/hub.log), last lines:\n" +
			"    | [hub] starting\n" +
			"    | \\x1b]0;pwned\\a\n" +
			"  journal, last lines:\n" +
			"    | j\\x1b[2J\n" +
			"    | ok\\rforged\n" +
			"  fix: read the log\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A failed plan has nothing to apply.
	if strings.Contains(out, "to apply") {
		t.Errorf("a failed plan offers to apply:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		assertTerminalSafe(t, line)
	}
}
