package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run parses the command line, lays the box out and, with --start, starts
// it. It returns the exit code: 0 done (and with --start every port
// answered), 1 failed, 64 usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("layout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var modules, wrapper, setsid string
	var wait time.Duration
	fs.StringVar(&cfg.home, "home", "", "PARACHUTE_HOME of the box (required)")
	fs.StringVar(&cfg.bin, "bin", "", "bin directory: gets the bun and parachute links (required)")
	fs.StringVar(&cfg.lib, "lib", "", "package directory (default <bin>/../lib/node_modules)")
	fs.StringVar(&cfg.hubBinary, "hub-binary", "", "the standin-hub binary (default <bin>/standin-hub)")
	fs.StringVar(&cfg.moduleBinary, "module-binary", "", "the standin-module binary (default <bin>/standin-module)")
	fs.StringVar(&modules, "modules", "vault,scribe,surface", "comma-separated module shorts")
	fs.StringVar(&wrapper, "wrapper", "", "comma-separated shorts run through a wrapper whose child holds the port")
	fs.StringVar(&setsid, "setsid-child", "", "comma-separated shorts run through a wrapper whose child calls setsid")
	fs.BoolVar(&cfg.start, "start", false, "start the modules and the hub detached, as the old CLI did")
	fs.IntVar(&cfg.hubPort, "hub-port", 1939, "hub port")
	fs.IntVar(&cfg.portBase, "port-base", 1939, "module port = port-base + (canonical port - 1939)")
	fs.BoolVar(&cfg.printSpec, "print-spec", false, "print the reconciler spec file for this box and exit")
	fs.BoolVar(&cfg.force, "force", false, "replace an existing, different services.json")
	fs.DurationVar(&wait, "wait", 5*time.Second, "with --start: how long every port may take to accept TCP")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || cfg.home == "" || cfg.bin == "" || cfg.hubPort < 1 || cfg.hubPort > 65535 || wait <= 0 {
		fmt.Fprintln(stderr, "layout: usage: layout --home DIR --bin DIR [--modules a,b] [--wrapper a] [--setsid-child b] [--start] [--hub-port N] [--port-base N] [--print-spec]")
		return exitUsage
	}
	if err := cfg.resolve(modules, wrapper, setsid); err != nil {
		fmt.Fprintf(stderr, "layout: %v\n", err)
		return exitUsage
	}
	b, err := newBox(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "layout: %v\n", err)
		return exitUsage
	}
	if cfg.printSpec {
		_, _ = io.WriteString(stdout, b.specYAML())
		return exitOK
	}
	for _, bin := range []string{cfg.hubBinary, cfg.moduleBinary} {
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			fmt.Fprintf(stderr, "layout: %s is not an executable file (build it with examples/build.sh)\n", bin)
			return exitFail
		}
	}
	if err := b.write(); err != nil {
		fmt.Fprintf(stderr, "layout: %v\n", err)
		return exitFail
	}
	sum := b.summary()
	code := exitOK
	if cfg.start {
		if err := b.start(&sum, wait); err != nil {
			fmt.Fprintf(stderr, "layout: %v\n", err)
			sum.Problems = append(sum.Problems, err.Error())
			code = exitFail
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(sum)
	return code
}

// resolve makes every path absolute, fills the defaults and splits the lists.
func (cfg *config) resolve(modules, wrapper, setsid string) error {
	var err error
	for _, p := range []*string{&cfg.home, &cfg.bin} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if cfg.lib == "" {
		cfg.lib = filepath.Join(filepath.Dir(cfg.bin), "lib", "node_modules")
	}
	if cfg.hubBinary == "" {
		cfg.hubBinary = filepath.Join(cfg.bin, "standin-hub")
	}
	if cfg.moduleBinary == "" {
		cfg.moduleBinary = filepath.Join(cfg.bin, "standin-module")
	}
	for _, p := range []*string{&cfg.lib, &cfg.hubBinary, &cfg.moduleBinary} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	cfg.modules = splitList(modules)
	cfg.wrapper, cfg.setsid = map[string]bool{}, map[string]bool{}
	for _, s := range splitList(wrapper) {
		cfg.wrapper[s] = true
	}
	for _, s := range splitList(setsid) {
		cfg.setsid[s] = true
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
