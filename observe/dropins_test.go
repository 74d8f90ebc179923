package observe

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExecBreaks(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	writeFile(t, plain, "#!/bin/sh\n", 0o644)
	exe := filepath.Join(dir, "exe")
	writeFile(t, exe, "#!/bin/sh\n", 0o755)
	const fixed = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"false", "ExecStartPre=/bin/false", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"false in /usr/bin", "[Service]\nExecStartPre=/usr/bin/false\n", []string{"ExecStartPre=/usr/bin/false always exits 1"}},
		{"false ignored with -", "ExecStartPre=-/bin/false", nil},
		{"false as ExecStart", "ExecStart=/bin/false --x", []string{"ExecStart=/bin/false --x always exits 1"}},
		{"false as ExecCondition", "ExecCondition=/bin/false", []string{"ExecCondition=/bin/false always exits 1"}},
		{"missing program", "ExecStart=/nonexistent/x --flag", []string{"ExecStart=/nonexistent/x --flag: /nonexistent/x does not exist"}},
		{"not executable", "ExecStartPre=" + plain + " a", []string{"ExecStartPre=" + plain + " a: " + plain + " is not an executable file"}},
		{"a directory", "ExecStartPre=" + dir, []string{"ExecStartPre=" + dir + ": " + dir + " is not an executable file"}},
		{"executable", "ExecStartPre=" + exe + " --ok", nil},
		{"bare name in the fixed path", "ExecStartPre=true", nil},
		{"bare name with args", "ExecStartPre=true --version", nil},
		{"bare name nowhere", "ExecStartPre=nosuchprogram-xyz", []string{"ExecStartPre=nosuchprogram-xyz: nosuchprogram-xyz is not in systemd's fixed search path (" + fixed + ")"}},
		{"bare name nowhere ignored", "ExecStartPre=-nosuchprogram-xyz", nil},
		{"specifier", "ExecStartPre=%h/bin/x", nil},
		{"variable", "ExecStartPre=$X", nil},
		{"braced variable", "ExecStartPre=${X}/run", nil},
		{"ExecStop not looked at", "ExecStop=/bin/false", nil},
		{"ExecStopPost not looked at", "ExecStopPost=/nonexistent/x", nil},
		{"ExecReload not looked at", "ExecReload=/bin/false", nil},
		{"ExecStartPost not looked at", "ExecStartPost=/bin/false", nil},
		{"prefix +", "ExecStartPre=+/bin/false", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"prefix !", "ExecStartPre=!/bin/false", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"prefix !!", "ExecStartPre=!!/nonexistent/x", []string{"ExecStartPre=/nonexistent/x: /nonexistent/x does not exist"}},
		{"prefix :", "ExecStartPre=:/bin/false", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"prefix @ names argv0", "ExecStartPre=@/nonexistent/x x-daemon", []string{"ExecStartPre=/nonexistent/x x-daemon: /nonexistent/x does not exist"}},
		{"prefix @ on a real program", "ExecStartPre=@" + exe + " name", nil},
		{"prefixes +- ignore failure", "ExecStartPre=+-/bin/false", nil},
		{"prefixes -@ ignore failure", "ExecStartPre=-@/nonexistent/x x", nil},
		{"spaces around =", "  ExecStartPre = /bin/false  ", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"quoted program", `ExecStart="/nonexistent/x" a`, []string{`ExecStart="/nonexistent/x" a: /nonexistent/x does not exist`}},
		{"comment #", "#ExecStartPre=/bin/false", nil},
		{"comment ;", "; ExecStartPre=/bin/false", nil},
		{"empty resets the list", "ExecStart=\nExecStartPre=", nil},
		{"no =", "ExecStartPre", nil},
		{"cleared by an empty assignment", "[Service]\nExecStartPre=/nonexistent/a\nExecStartPre=\nExecStartPre=/bin/true\n", nil},
		{"cleared, then broken again", "[Service]\nExecStartPre=/nonexistent/a\nExecStartPre=\nExecStartPre=/nonexistent/b\n",
			[]string{"ExecStartPre=/nonexistent/b: /nonexistent/b does not exist"}},
		{"an empty ExecStart= leaves ExecStartPre=", "[Service]\nExecStartPre=/bin/false\nExecStart=\n", []string{"ExecStartPre=/bin/false always exits 1"}},
		{"outside [Service] (systemd ignores it)", "[Unit]\nExecStartPre=/bin/false\n", nil},
		{"before any section (systemd ignores it)", "[]\nExecStartPre=/bin/false\n", nil},
		{"continued on the next line", "[Service]\nExecStartPre=/nonexistent/x \\\n  --flag\n", []string{"ExecStartPre=/nonexistent/x    --flag: /nonexistent/x does not exist"}},
		{"a quoted ; is part of the program", "[Service]\nExecStartPre=\"/nonexistent/a;b\"\n", []string{`ExecStartPre="/nonexistent/a;b": /nonexistent/a;b does not exist`}},
		{"several, in order", "[Service]\nExecStartPre=/nonexistent/a\nExecStartPre=-/nonexistent/b\nExecStart=\nExecStart=/bin/false\n",
			[]string{"ExecStartPre=/nonexistent/a: /nonexistent/a does not exist", "ExecStart=/bin/false always exits 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.HasPrefix(tt.content, "[") {
				tt.content = "[Service]\n" + tt.content
			}
			if got := execBreaks(tt.content); !slices.Equal(got, tt.want) {
				t.Errorf("execBreaks(%q) = %q\nwant %q", tt.content, got, tt.want)
			}
		})
	}
}

// systemd splits a command line on any whitespace and honours quotes
// (systemd.service(5), "Command lines"): a program that exists must not be
// reported missing because a tab follows it or its quoted path has a space.
func TestExecBreaksSplitsAsSystemd(t *testing.T) {
	spaced := filepath.Join(t.TempDir(), "my dir", "prog")
	writeFile(t, spaced, "#!/bin/sh\n", 0o755)
	tests := []struct {
		name    string
		content string
	}{
		{"tab after the program", "ExecStartPre=/bin/true\t--quiet"},
		{"quoted path with a space", `ExecStartPre="` + spaced + `" --quiet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := execBreaks(tt.content); len(got) != 0 {
				t.Errorf("execBreaks(%q) = %q; the program exists and systemd runs it, so nothing is certain to break", tt.content, got)
			}
		})
	}
}

func TestDropInDirs(t *testing.T) {
	const name = "parachute-hub.service"
	system := dropInDirs("system", name, "/home/u", "/run/user/1000")
	wantSystem := []string{
		"/etc/systemd/system/parachute-hub.service.d",
		"/etc/systemd/system/parachute-.service.d",
		"/etc/systemd/system/service.d",
		"/run/systemd/system/parachute-hub.service.d",
		"/usr/lib/systemd/system/parachute-hub.service.d",
		"/lib/systemd/system/service.d",
	}
	for _, w := range wantSystem {
		if !slices.Contains(system, w) {
			t.Errorf("system scope: %q missing from %q", w, system)
		}
	}
	if want := []string{"/etc/systemd/system.control/parachute-hub.service.d", "/etc/systemd/system.control/parachute-.service.d", "/etc/systemd/system.control/service.d"}; !slices.Equal(system[:3], want) {
		t.Errorf("system scope starts %q, want %q", system[:3], want)
	}
	if len(system) != 24 {
		t.Errorf("system scope has %d dirs, want 24 (8 bases, 3 names)", len(system))
	}
	// The unit-name drop-in comes before the prefix ones in each base, and
	// the admin's /etc before the vendor's /usr/lib.
	if i, j := slices.Index(system, "/etc/systemd/system/parachute-hub.service.d"), slices.Index(system, "/usr/lib/systemd/system/parachute-hub.service.d"); i < 0 || j < 0 || i > j {
		t.Errorf("/etc at %d, /usr/lib at %d: want /etc first", i, j)
	}
	for _, d := range system {
		if strings.Contains(d, "/home/u") || strings.Contains(d, "/run/user/1000") || strings.Contains(d, "/systemd/user") {
			t.Errorf("system scope lists a user directory %q", d)
		}
	}

	user := dropInDirs("user", name, "/home/u", "/run/user/1000")
	for _, w := range []string{
		"/home/u/.config/systemd/user/parachute-hub.service.d",
		"/home/u/.config/systemd/user/parachute-.service.d",
		"/home/u/.config/systemd/user/service.d",
		"/home/u/.config/systemd/user.control/parachute-hub.service.d",
		"/run/user/1000/systemd/user/parachute-hub.service.d",
		"/etc/systemd/user/parachute-hub.service.d",
		"/home/u/.local/share/systemd/user/parachute-hub.service.d",
		"/usr/lib/systemd/user/service.d",
	} {
		if !slices.Contains(user, w) {
			t.Errorf("user scope: %q missing from %q", w, user)
		}
	}
	for _, d := range user {
		if strings.Contains(d, "/systemd/system") {
			t.Errorf("user scope lists a system directory %q", d)
		}
	}

	// Unknown home and runtime directory: no relative paths sneak in.
	for _, d := range dropInDirs("user", name, "", "") {
		if !filepath.IsAbs(d) || strings.Contains(d, ".config") || strings.Contains(d, ".local") {
			t.Errorf("user scope without a home lists %q", d)
		}
	}
	// A name without a dash has no prefix drop-in.
	if got, want := dropInDirs("system", "hub.service", "", "")[:2], []string{"/etc/systemd/system.control/hub.service.d", "/etc/systemd/system.control/service.d"}; !slices.Equal(got, want) {
		t.Errorf("hub.service starts %q, want %q", got, want)
	}
}

func TestScanDropIns(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	missing := filepath.Join(t.TempDir(), "absent")
	writeFile(t, filepath.Join(d1, "10-break.conf"), "[Service]\nExecStartPre=/bin/false\n", 0o644)
	writeFile(t, filepath.Join(d1, "20-ok.conf"), "[Service]\nExecStartPre=-/bin/false\n", 0o644)
	writeFile(t, filepath.Join(d1, "30-notes.txt"), "ExecStartPre=/bin/false\n", 0o644)
	writeFile(t, filepath.Join(d1, "conf"), "ExecStartPre=/bin/false\n", 0o644)
	// Already known (the manager listed it): not read again, but judged.
	writeFile(t, filepath.Join(d1, "00-known.conf"), "on disk, not what have says\n", 0o644)
	if err := syscall.Mkfifo(filepath.Join(d1, "40-fifo.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d2, "15-break.conf"), "[Service]\nExecStart=\nExecStart=/nonexistent/hub serve\n", 0o644)
	// Shadowed by d1's file of the same name, which systemd applies
	// instead: never read, so never a break.
	writeFile(t, filepath.Join(d2, "10-break.conf"), "[Service]\nExecStartPre=/nonexistent/shadowed\n", 0o644)
	writeFile(t, filepath.Join(d2, "00-known.conf"), "[Service]\nExecStartPre=/nonexistent/shadowed\n", 0o644)

	have := []UnitFile{{Path: filepath.Join(d1, "00-known.conf"), Exists: true, Content: "[Service]\nExecStartPre=/nonexistent/known\n"}}
	var got []UnitFile
	var problems []string
	withinDeadline(t, 2*time.Second, releaseFIFO(filepath.Join(d1, "40-fifo.conf")), func() {
		got, problems = scanDropIns([]string{d1, missing, d2, d1}, have)
	})
	want := []UnitFile{
		{Path: filepath.Join(d1, "00-known.conf"), Exists: true, Content: "[Service]\nExecStartPre=/nonexistent/known\n",
			Breaks: []string{"ExecStartPre=/nonexistent/known: /nonexistent/known does not exist"}},
		{Path: filepath.Join(d1, "10-break.conf"), Exists: true, Content: "[Service]\nExecStartPre=/bin/false\n",
			Breaks: []string{"ExecStartPre=/bin/false always exits 1"}},
		{Path: filepath.Join(d1, "20-ok.conf"), Exists: true, Content: "[Service]\nExecStartPre=-/bin/false\n"},
		{Path: filepath.Join(d1, "40-fifo.conf"), Exists: true, ParseError: "not a regular file (named pipe)"},
		{Path: filepath.Join(d2, "15-break.conf"), Exists: true, Content: "[Service]\nExecStart=\nExecStart=/nonexistent/hub serve\n",
			Breaks: []string{"ExecStart=/nonexistent/hub serve: /nonexistent/hub does not exist"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scanDropIns =\n%+v\nwant\n%+v", got, want)
	}
	wantProblems := []string{"unit file " + filepath.Join(d1, "40-fifo.conf") + ": not a regular file (named pipe)"}
	if !slices.Equal(problems, wantProblems) {
		t.Errorf("problems = %q, want %q", problems, wantProblems)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the absent directory exists")
	}
}

// An empty assignment in a drop-in applied later (drop-ins apply in the
// order of their file names, whatever their directory) clears the lines an
// earlier drop-in set: they no longer break anything.
func TestExecBreaksAcrossDropIns(t *testing.T) {
	files := []UnitFile{
		{Path: "/etc/systemd/system/parachute-hub.service.d/20-fix.conf", Content: "[Service]\nExecStartPre=\nExecStartPre=/bin/true\n"},
		{Path: "/run/systemd/system/parachute-hub.service.d/10-broken.conf", Content: "[Service]\nExecStartPre=/nonexistent/a\nExecCondition=/bin/false\n"},
	}
	setExecBreaks(files)
	if len(files[0].Breaks) != 0 {
		t.Errorf("20-fix.conf breaks %q, want none", files[0].Breaks)
	}
	if want := []string{"ExecCondition=/bin/false always exits 1"}; !slices.Equal(files[1].Breaks, want) {
		t.Errorf("10-broken.conf breaks %q, want %q (its ExecStartPre= is cleared by 20-fix.conf)", files[1].Breaks, want)
	}
}

// execBreaks is setExecBreaks for one fragment.
func execBreaks(content string) []string {
	f := []UnitFile{{Content: content}}
	setExecBreaks(f)
	return f[0].Breaks
}

// A drop-in added since the manager's last reload, in a more specific
// directory than one of the same name the manager loaded, is the one that
// applies: the loaded one is shadowed, not the new one.
func TestScanDropInsNewerShadowsLoaded(t *testing.T) {
	control, etc := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(control, "50-x.conf"), "[Service]\nExecStartPre=/nonexistent/control\n", 0o644)
	writeFile(t, filepath.Join(etc, "50-x.conf"), "[Service]\nExecStartPre=/bin/true\n", 0o644)
	have := []UnitFile{{Path: filepath.Join(etc, "50-x.conf"), Exists: true, Content: "[Service]\nExecStartPre=/bin/true\n"}}
	got, _ := scanDropIns([]string{control, etc}, have)
	if len(got) != 1 || got[0].Path != filepath.Join(control, "50-x.conf") || len(got[0].Breaks) != 1 {
		t.Errorf("scanDropIns = %+v, want only %s, with its break", got, filepath.Join(control, "50-x.conf"))
	}
}
