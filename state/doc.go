// Package state holds the observed state of a box as plain data: the
// Snapshot one observation of the world yields, and the types it is made
// of. observe fills it; reconcile plans from it; the CLI prints it.
//
// state only declares data. It imports nothing of the project but spec,
// does no I/O and never talks to the system, so that the planner can depend
// on it without depending on the code that observes.
package state
