package spec

import (
	"path/filepath"
	"strconv"
	"strings"
)

// InputError is a file the reconciler cannot use as a whole: services.json
// that is not a JSON object with a "services" array, or a spec file with a
// bad key or value. The CLI maps it to exit code 65. Bad services.json rows
// are never InputErrors: they are skipped and listed in Manifest.Skipped.
type InputError struct {
	// Kind names the file's role: "services.json" or "spec file".
	Kind string
	// File is the path read.
	File string
	// Field is the key path at fault ("hub.port", "services"), when one is.
	Field string
	// Line is the 1-based line of the problem, 0 when unknown. For spec files
	// it is the line of the YAML node at fault (for a syntax error, the line
	// the parser's message names).
	Line int
	// Problem says what is wrong.
	Problem string
	// Fix says what a person should do about it.
	Fix string
	// Err is the underlying error (an I/O error, say), when there is one.
	Err error
}

// Error reads like
// `services.json: /home/op/.parachute/services.json: line 3: unexpected character 'x' — fix: …`.
func (e *InputError) Error() string {
	var b strings.Builder
	kind := e.Kind
	if kind == "" {
		kind = filepath.Base(e.File)
	}
	b.WriteString(kind)
	if e.File != "" && e.File != kind {
		b.WriteString(": ")
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		b.WriteString(": line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" — fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrPermission)
// works through an InputError.
func (e *InputError) Unwrap() error { return e.Err }

// UsageError is a bad command-line value (an unknown --desired, a port out of
// range). The CLI maps it to exit code 64.
type UsageError struct {
	// Flag is the flag at fault, with its dashes ("--desired").
	Flag string
	// Value is the value given.
	Value string
	// Problem says what is wrong with it.
	Problem string
	// Fix says what to pass instead.
	Fix string
}

// Error reads like `--desired "up": not one of supervised, detached, absent — fix: …`.
func (e *UsageError) Error() string {
	var b strings.Builder
	if e.Flag != "" {
		b.WriteString(e.Flag)
		b.WriteString(" ")
		b.WriteString(strconv.Quote(e.Value))
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" — fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}
