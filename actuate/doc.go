// Package actuate applies a reconcile.Plan: it is the only package that
// changes the machine. It runs the steps in order through small interfaces
// it owns (Processes, Files, Units, Ports, Health, Clock), retries only the
// steps that may succeed on a second try, and stops at the first failure.
//
// actuate never plans: it does not decide what to stop or start, it reads
// no snapshot (the plan's steps carry all it needs), and it never re-plans
// from memory. The next run observes afresh and resumes. Before each
// signal it checks the pid still names the process the plan saw.
package actuate
