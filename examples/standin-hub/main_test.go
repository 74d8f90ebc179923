package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/parachute/reconcile/examples/internal/boxtest"
)

// bins are the stand-in programs, built once for the package's tests.
var bins boxtest.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "standin-hub-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bins, err = boxtest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The supervisor starts goroutines: none may outlive the tests.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}
