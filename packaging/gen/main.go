// Command gen writes the files the packages carry besides the binary, all
// made from the reconciler's own code so that they cannot drift from it:
// the man page (gzip -9n, as Debian policy wants it), the bash, zsh and
// fish completions, the timer units rendered for /usr/bin/parachute-reconcile
// with their environment from /etc/default/parachute-reconcile, and the
// Debian copyright file with the licence's full text.
//
//	go run ./packaging/gen -o DIR -license LICENSE
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parachute/reconcile/internal/cli"
	"github.com/parachute/reconcile/unitfile"
)

// maintainer is the packages' Maintainer, also the Debian changelog's.
const maintainer = "parachute reconcile maintainers <reconcile@parachute.computer>"

// Where the package puts the binary and the service's environment.
const (
	binPath = "/usr/bin/" + cli.Name
	envPath = "/etc/default/" + cli.Name
)

func main() {
	out := flag.String("o", "", "directory to write into (created)")
	license := flag.String("license", "LICENSE", "the licence text for the copyright file")
	version := flag.String("version", "0.0.0", "the package version, for the Debian changelog")
	when := flag.Int64("time", 0, "the release's time in Unix seconds, for the Debian changelog (default now)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gen -o DIR [-license FILE] [-version V] [-time UNIX]")
		os.Exit(64)
	}
	t := time.Now()
	if *when != 0 {
		t = time.Unix(*when, 0)
	}
	if err := run(*out, *license, *version, t); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, licensePath, version string, when time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var man bytes.Buffer
	if err := cli.WriteManPage(&man); err != nil {
		return err
	}
	manGz, err := gzipN(man.Bytes())
	if err != nil {
		return err
	}
	files := map[string][]byte{cli.Name + ".8.gz": manGz}
	for name, write := range map[string]func(io.Writer) error{
		cli.Name + ".bash": cli.WriteBashCompletion,
		"_" + cli.Name:     cli.WriteZshCompletion,
		cli.Name + ".fish": cli.WriteFishCompletion,
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		files[name] = b.Bytes()
	}
	svc, tim, err := unitfile.RenderTimer(unitfile.Timer{
		Argv:            []string{binPath, "reconcile", "--quiet"},
		EnvironmentFile: envPath,
		SystemUnit:      true,
	})
	if err != nil {
		return err
	}
	files[unitfile.TimerServiceName] = svc
	files[unitfile.TimerName] = tim
	license, err := os.ReadFile(licensePath)
	if err != nil {
		return err
	}
	files["copyright"] = copyright(license)
	if files["changelog.gz"], err = gzipN(debianChangelog(version, when)); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// gzipN is gzip -9n: best compression, no file name or time in the header,
// so the same page makes the same bytes.
func gzipN(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// copyright is the machine-readable Debian copyright file (DEP-5), with the
// licence's full text: Debian's common-licenses has no AGPL.
func copyright(license []byte) []byte {
	var b strings.Builder
	b.WriteString(`Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: parachute-reconcile
Source: https://github.com/parachute/reconcile

Files: *
Copyright: The parachute reconcile authors
License: AGPL-3.0-only

License: AGPL-3.0-only
`)
	for _, l := range strings.Split(strings.TrimRight(string(license), "\n"), "\n") {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			l = "."
		}
		b.WriteString(" " + l + "\n")
	}
	return []byte(b.String())
}

// debianChangelog is the one-entry changelog a native Debian package
// carries (debian-policy 12.7); the project's own story is CHANGELOG.md.
func debianChangelog(version string, when time.Time) []byte {
	return []byte("parachute-reconcile (" + version + ") unstable; urgency=medium\n\n" +
		"  * New release: CHANGELOG.md in the source says what it contains.\n\n" +
		" -- " + maintainer + "  " + when.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700") + "\n")
}
