// Package converge is the retry policy of a level-based reconciler: it runs
// attempts until one reports the box converged, one fails in a way no retry
// can fix, the deadline passes or the context ends. Each attempt returns a
// Result (done, or requeue) or a terminal error, as controller-runtime's
// reconcilers do; the waits between attempts follow one backoff schedule and
// are paced by a Clock, so tests move time instead of sleeping.
//
// converge never observes, plans or acts itself: the attempt does, and the
// loop only decides whether and when to call it again.
package converge
