package cli

import (
	"os"

	"github.com/parachute/reconcile/spec"
)

// loadDesired turns the flags that were given into spec.Load options: a
// flag left unset leaves the spec file's value (or the default) in force.
func loadDesired(f *flags) (spec.Desired, error) {
	opts := spec.Options{SpecFile: f.spec, Getenv: os.Getenv, User: currentUser()}
	fs := f.fs
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
	return spec.Load(opts)
}
