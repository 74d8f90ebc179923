// Package unitfile renders, parses and compares the hub's service
// definition: the systemd unit parachute-hub.service and the launchd agent
// computer.parachute.hub.plist, and says where each one lives (Locate).
//
// Rendering writes through encoders (go-systemd's unit serializer,
// howett.net/plist in XML format) and quotes every value the way systemd or
// launchd reads it back; a value that cannot be represented is rejected
// with an error naming the field (ErrUnrepresentable), never written in a
// form that could add a line or a second assignment. Comparison is by
// meaning: decoded keys and values, not bytes.
//
// unitfile is pure: it never reads or writes files, runs commands, or looks
// at the running platform; GOOS, the user and every path come in as
// arguments, so one Linux test run covers macOS output.
package unitfile
