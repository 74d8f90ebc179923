// Package launchctl runs /bin/launchctl and parses what its read-only verbs
// print (`print <domain>/<label>`, `print-disabled <domain>`), for both the
// observer and the actuator.
//
// The parsers are pure and never fail; Exec only runs the verbs it is
// given: the guard against changing the machine's launchd under test lives
// in the actuator, the only caller that asks for such verbs.
package launchctl
