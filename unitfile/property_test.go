package unitfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"
)

// trickyString draws strings mixing the printable runes the renderers must
// treat with care (quotes, backslash, %, $, ;, #, spaces, UTF-8, XML
// specials) with letters of every script, and now and then a control
// character, invalid for both formats.
func trickyString() *rapid.Generator[string] {
	special := rapid.SampledFrom([]rune{' ', '"', '\'', '\\', '%', '$', ';', '#', '=', '{', '}',
		'é', '—', 0xa0, 0x2028, 0xfeff, '\U0001F600', '[', ']', '&', '<', '>', '`', '*', '~'})
	printable := rapid.RuneFrom(nil, unicode.L, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.M)
	control := rapid.SampledFrom([]rune{'\n', '\r', '\t', 0, 0x7f, 0x1b, 0xfffe})
	r := rapid.Custom(func(t *rapid.T) rune {
		if rapid.IntRange(0, 99).Draw(t, "kind") == 57 { // rapid favours small numbers
			return control.Draw(t, "control")
		}
		return rapid.OneOf(special, printable, rapid.RuneFrom([]rune("abc/._-"))).Draw(t, "rune")
	})
	return rapid.StringOfN(r, 0, 12, -1)
}

// drawHub draws a Hub whose every free-form field is tricky.
func drawHub(t *rapid.T) Hub {
	h := opHub()
	h.Home = "/" + trickyString().Draw(t, "home")
	h.User.Home = "/" + trickyString().Draw(t, "userHome")
	h.Command = append([]string{"/" + trickyString().Draw(t, "exe")}, rapid.SliceOfN(trickyString(), 0, 4).Draw(t, "args")...)
	h.Env = rapid.MapOfN(rapid.StringMatching(`[A-Za-z_][A-Za-z0-9_]{0,6}`), trickyString(), 0, 3).Draw(t, "env")
	h.ExtraPath = trickyString().Draw(t, "extraPath")
	h.SystemUnit = rapid.Bool().Draw(t, "system")
	h.User.Name = rapid.OneOf(rapid.Just("op"), trickyString()).Draw(t, "userName")
	return h
}

// TestRenderSystemdRoundTrip: any hub is either rejected with
// ErrUnrepresentable, or rendered to a unit whose options are exactly the
// expected keys and from which our parser and systemd's unquoting rules
// recover every value exactly: no injected line, key or assignment.
func TestRenderSystemdRoundTrip(t *testing.T) {
	rendered, rejected := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		h := drawHub(t)
		data, err := RenderSystemd(h)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) && !strings.Contains(err.Error(), "may not be overridden") {
				t.Fatalf("rejected without ErrUnrepresentable: %v", err)
			}
			rejected++
			return
		}
		rendered++
		opts, err := ParseSystemd(data)
		if err != nil {
			t.Fatalf("our own unit does not parse: %v\n%s", err, data)
		}
		env, err := h.environment()
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"Unit.Description", "Unit.After", "Unit.Wants", "Unit.StartLimitIntervalSec", "Unit.StartLimitBurst", "Service.Type"}
		if h.SystemUnit && h.User.Name != "" {
			wantKeys = append(wantKeys, "Service.User")
		}
		for range env {
			wantKeys = append(wantKeys, "Service.Environment")
		}
		wantKeys = append(wantKeys, "Service.ExecStart", "Service.Restart", "Service.RestartSec", "Service.StandardOutput", "Service.StandardError", "Install.WantedBy")
		var gotKeys []string
		for _, o := range opts {
			gotKeys = append(gotKeys, o.Section+"."+o.Name)
		}
		if !reflect.DeepEqual(gotKeys, wantKeys) {
			t.Fatalf("keys %q, want %q\n%s", gotKeys, wantKeys, data)
		}
		exec, _ := opts.Last("Service", "ExecStart")
		argv, err := SplitExecStart(exec)
		if err != nil || !reflect.DeepEqual(argv, h.Command) {
			t.Fatalf("ExecStart %s decodes to %q, %v; want %q", exec, argv, err, h.Command)
		}
		var gotEnv, wantEnv []string
		for _, v := range opts.Values("Service", "Environment") {
			as, err := SplitEnvironment(v)
			if err != nil || len(as) != 1 {
				t.Fatalf("Environment=%s decodes to %q, %v: want one assignment", v, as, err)
			}
			gotEnv = append(gotEnv, as[0])
		}
		for _, e := range env {
			wantEnv = append(wantEnv, e.Name+"="+e.Value)
		}
		if !reflect.DeepEqual(gotEnv, wantEnv) {
			t.Fatalf("environment %q, want %q", gotEnv, wantEnv)
		}
		out, _ := opts.Last("Service", "StandardOutput")
		logPath, err := unescapeSpecifiers(strings.TrimPrefix(out, "append:"))
		if err != nil || logPath != LogPath(h.Home) {
			t.Fatalf("StandardOutput=%s gives %q, %v; want %q", out, logPath, err, LogPath(h.Home))
		}
		if h.SystemUnit && h.User.Name != "" {
			if u, _ := opts.Last("Service", "User"); u != h.User.Name {
				t.Fatalf("User=%q, want %q", u, h.User.Name)
			}
		}
		diffs, err := CompareSystemd(data, data)
		if err != nil || len(diffs) != 0 {
			t.Fatalf("a unit differs from itself: %q, %v", diffs, err)
		}
	})
	checkMix(t, rendered, rejected)
}

// TestQuoteExecStartRoundTrip: arbitrary argv either rejected or recovered.
func TestQuoteExecStartRoundTrip(t *testing.T) {
	rendered, rejected := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		argv := append([]string{"/" + trickyString().Draw(t, "exe")}, rapid.SliceOfN(trickyString(), 0, 5).Draw(t, "args")...)
		q, err := QuoteExecStart(argv)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) {
				t.Fatalf("rejected without ErrUnrepresentable: %v", err)
			}
			rejected++
			return
		}
		rendered++
		if strings.ContainsAny(q, "\n\r\x00") {
			t.Fatalf("quoted value holds a line break or NUL: %q", q)
		}
		back, err := SplitExecStart(q)
		if err != nil || !reflect.DeepEqual(back, argv) {
			t.Fatalf("%q -> %s -> %q, %v", argv, q, back, err)
		}
	})
	checkMix(t, rendered, rejected)
}

// TestRenderLaunchdRoundTrip: any hub is either rejected with
// ErrUnrepresentable, or rendered to a plist that decodes to exactly the
// arguments and environment it was rendered from.
func TestRenderLaunchdRoundTrip(t *testing.T) {
	rendered, rejected := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		h := drawHub(t)
		h.GOOS, h.GOARCH = "darwin", "arm64"
		data, err := RenderLaunchd(h)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) && !strings.Contains(err.Error(), "may not be overridden") {
				t.Fatalf("rejected without ErrUnrepresentable: %v", err)
			}
			rejected++
			return
		}
		rendered++
		job, err := ParseLaunchd(data)
		if err != nil {
			t.Fatalf("our own plist does not parse: %v\n%s", err, data)
		}
		var args []string
		for _, a := range job["ProgramArguments"].([]any) {
			args = append(args, a.(string))
		}
		if !reflect.DeepEqual(args, h.Command) {
			t.Fatalf("ProgramArguments %q, want %q", args, h.Command)
		}
		env, _ := h.environment()
		gotEnv := job["EnvironmentVariables"].(map[string]any)
		if len(gotEnv) != len(env) {
			t.Fatalf("%d variables, want %d", len(gotEnv), len(env))
		}
		for _, e := range env {
			if gotEnv[e.Name] != e.Value {
				t.Fatalf("%s = %q, want %q", e.Name, gotEnv[e.Name], e.Value)
			}
		}
		if job["StandardOutPath"] != LogPath(h.Home) {
			t.Fatalf("StandardOutPath %q", job["StandardOutPath"])
		}
		diffs, err := CompareLaunchd(data, data)
		if err != nil || len(diffs) != 0 {
			t.Fatalf("a plist differs from itself: %q, %v", diffs, err)
		}
	})
	checkMix(t, rendered, rejected)
}

// checkMix fails a property test whose generator almost never reaches one of
// the two outcomes: such a test would prove little.
func checkMix(t *testing.T, rendered, rejected int) {
	t.Helper()
	total := rendered + rejected
	if total >= 50 && (rendered*10 < total || rejected == 0) {
		t.Errorf("generator is off: %d rendered, %d rejected", rendered, rejected)
	}
	t.Logf("%d rendered, %d rejected", rendered, rejected)
}
