// Package packaging holds the nfpm config of the .deb and .rpm and their
// test; gen writes the files they carry besides the binary.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// distDir is make dist's output; without PARACHUTE_DIST (make test-package
// sets it) the package tests skip.
func distDir(t *testing.T) string {
	d := os.Getenv("PARACHUTE_DIST")
	if d == "" {
		t.Skip("PARACHUTE_DIST is not set: run make test-package, which builds dist/ first")
	}
	return d
}

// need is a tool the test runs: missing, the test skips, except under CI
// (.ci/run installs every one of them), where it fails.
func need(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; .ci/run installs it", name)
		}
		t.Skipf("%s is not installed; skipped", name)
	}
	return p
}

func one(t *testing.T, pattern string) string {
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("want one file matching %s, have %v (%v)", pattern, m, err)
	}
	return m[0]
}

// wantFiles are the files each package installs, besides its directories.
var wantFiles = map[string][]string{
	"deb": {
		"/etc/default/parachute-reconcile",
		"/lib/systemd/system/parachute-reconcile.service",
		"/lib/systemd/system/parachute-reconcile.timer",
		"/usr/bin/parachute-reconcile",
		"/usr/share/bash-completion/completions/parachute-reconcile",
		"/usr/share/doc/parachute-reconcile/changelog.gz",
		"/usr/share/doc/parachute-reconcile/copyright",
		"/usr/share/fish/vendor_completions.d/parachute-reconcile.fish",
		"/usr/share/lintian/overrides/parachute-reconcile",
		"/usr/share/man/man8/parachute-reconcile.8.gz",
		"/usr/share/zsh/vendor-completions/_parachute-reconcile",
	},
	"rpm": {
		"/etc/default/parachute-reconcile",
		"/usr/bin/parachute-reconcile",
		"/usr/lib/systemd/system/parachute-reconcile.service",
		"/usr/lib/systemd/system/parachute-reconcile.timer",
		"/usr/share/bash-completion/completions/parachute-reconcile",
		"/usr/share/fish/vendor_completions.d/parachute-reconcile.fish",
		"/usr/share/licenses/parachute-reconcile/LICENSE",
		"/usr/share/man/man8/parachute-reconcile.8.gz",
		"/usr/share/zsh/site-functions/_parachute-reconcile",
	},
}

// The .deb's files are exactly the expected ones, it has no maintainer
// script (installing it starts and enables nothing), and its timer units
// are rendered for the packaged binary.
func TestPackageDebContents(t *testing.T) {
	dist := distDir(t)
	deb := one(t, filepath.Join(dist, "parachute-reconcile_*_amd64.deb"))
	dpkgDeb := need(t, "dpkg-deb")
	out, err := exec.Command(dpkgDeb, "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if strings.HasPrefix(f[0], "d") {
			continue
		}
		files = append(files, strings.TrimPrefix(f[len(f)-1], "."))
	}
	slices.Sort(files)
	if !slices.Equal(files, wantFiles["deb"]) {
		t.Errorf("the .deb installs\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(wantFiles["deb"], "\n"))
	}
	control := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-e", deb, control).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(control)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "control", "md5sums", "conffiles":
		default:
			t.Errorf("control member %s: the package must have no maintainer script", e.Name())
		}
	}
	conffiles, _ := os.ReadFile(filepath.Join(control, "conffiles"))
	if strings.TrimSpace(string(conffiles)) != "/etc/default/parachute-reconcile" {
		t.Errorf("conffiles = %q, want /etc/default/parachute-reconcile", conffiles)
	}
}

// The .rpm's files are exactly the expected ones and it has no scriptlet.
func TestPackageRpmContents(t *testing.T) {
	dist := distDir(t)
	rpmFile := one(t, filepath.Join(dist, "parachute-reconcile-*.x86_64.rpm"))
	rpm := need(t, "rpm")
	// rpm opens a package database even to read a file; without --dbpath
	// it would make one in this machine's home (~/.rpmdb).
	db := "--dbpath=" + t.TempDir()
	out, err := exec.Command(rpm, db, "-qlp", rpmFile).Output()
	if err != nil {
		t.Fatalf("rpm -qlp: %v", err)
	}
	files := strings.Fields(string(out))
	slices.Sort(files)
	if !slices.Equal(files, wantFiles["rpm"]) {
		t.Errorf("the .rpm installs\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(wantFiles["rpm"], "\n"))
	}
	scripts, err := exec.Command(rpm, db, "-qp", "--scripts", rpmFile).Output()
	if err != nil {
		t.Fatalf("rpm -qp --scripts: %v", err)
	}
	if s := strings.TrimSpace(string(scripts)); s != "" {
		t.Errorf("the .rpm has scriptlets:\n%s", s)
	}
}

// The .deb extracted into a scratch root (dpkg-deb -x: no dpkg database,
// nothing of this machine's /usr touched) runs: version, help, the man page
// it carries is the binary's own, and the service runs that binary.
func TestPackageDebRuns(t *testing.T) {
	dist := distDir(t)
	deb := one(t, filepath.Join(dist, "parachute-reconcile_*_amd64.deb"))
	dpkgDeb := need(t, "dpkg-deb")
	root := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "usr/bin/parachute-reconcile")
	run := func(args ...string) string {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("parachute-reconcile %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if v := run("version"); !strings.HasPrefix(v, "parachute-reconcile v") || strings.Contains(v, "(devel)") {
		t.Errorf("version = %q: want the module version stamped from the build info", v)
	}
	if h := run("help", "reconcile"); !strings.HasPrefix(h, "usage: parachute-reconcile reconcile [--desired") {
		t.Errorf("help reconcile =\n%s", h)
	}
	if h := run("--help"); !strings.Contains(h, "Without a command, parachute-reconcile runs reconcile") {
		t.Errorf("--help =\n%s", h)
	}
	svc, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/parachute-reconcile.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/bin/parachute-reconcile reconcile --quiet\n", "EnvironmentFile=-/etc/default/parachute-reconcile\n", "Documentation=man:parachute-reconcile(8)\n"} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("the service lacks %q:\n%s", want, svc)
		}
	}
	if man := run("man"); !strings.Contains(man, ".TH PARACHUTE-RECONCILE 8") {
		t.Errorf("man: no .TH line")
	}
}

// lintian finds nothing to say at error or warning level (overrides, each
// with its reason, are in packaging/lintian-overrides).
func TestPackageLintian(t *testing.T) {
	dist := distDir(t)
	deb := one(t, filepath.Join(dist, "parachute-reconcile_*_amd64.deb"))
	lintian := need(t, "lintian")
	out, err := exec.Command(lintian, "--fail-on", "error,warning", "--display-info", deb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	if err != nil {
		t.Fatalf("lintian: %v", err)
	}
}
