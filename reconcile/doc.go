// Package reconcile is the planner: a pure function from the desired state
// and a Snapshot to an ordered Plan of typed steps, each with a target and a
// reason, plus the classification of every port holder and the blockers that
// need a person.
//
// reconcile does no I/O, reads no clock and never looks at runtime.GOOS: the
// platform comes in through the Snapshot.
package reconcile
