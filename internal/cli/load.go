package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/parachute/reconcile/spec"
)

// loadDesired turns the flags that were given into spec.Load options: a
// flag left unset leaves the spec file's value (or the default) in force.
func loadDesired(f *options, fs *pflag.FlagSet) (spec.Desired, error) {
	opts := spec.Options{SpecFile: f.spec, Getenv: os.Getenv, User: currentUser(), LookPath: lookPathNotSelf}
	if fs.Changed("desired") {
		m := spec.Model(f.desired)
		opts.Desired = &m
	}
	if fs.Changed("home") {
		opts.Home = &f.home
	}
	if fs.Changed("port") {
		opts.Port = &f.port
	}
	if fs.Changed("scope") {
		s := spec.Scope(f.scope)
		opts.Scope = &s
	}
	if fs.Changed("manager") {
		m := spec.Manager(f.manager)
		opts.Manager = &m
	}
	if fs.Changed("textfile") {
		opts.Textfile = &f.textfile
	}
	return spec.Load(opts)
}

// lookPathNotSelf is exec.LookPath, except that it passes over this very
// binary: installed as "parachute", the reconciler would otherwise find
// itself where the hub's own parachute CLI (bun's src/cli.ts) is meant.
func lookPathNotSelf(name string) (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, _ = filepath.EvalSymlinks(self)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		p, err := exec.LookPath(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if real, rerr := filepath.EvalSymlinks(p); rerr == nil && self != "" && real == self {
			continue
		}
		return p, nil
	}
	return "", &exec.Error{Name: name, Err: errors.New("executable file not found in $PATH (other than this reconciler)")}
}
