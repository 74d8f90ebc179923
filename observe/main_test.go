package observe

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// helperEnv selects a helper mode when the test binary is re-executed as a
// child process by the real-machine tests (see helper_test.go).
const helperEnv = "PARACHUTE_OBSERVE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	goleak.VerifyTestMain(m)
}

// fakeUnits is a working in-memory UnitObserver: it answers from the units
// it holds, records the queries it was asked, and fails on demand.
type fakeUnits struct {
	mu      sync.Mutex
	units   map[string]UnitReport // by unit name
	queries []UnitQuery
	failErr error
}

var _ UnitObserver = (*fakeUnits)(nil)

func newFakeUnits() *fakeUnits { return &fakeUnits{units: map[string]UnitReport{}} }

// Put installs what the manager reports for a unit name.
func (f *fakeUnits) Put(name string, r UnitReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.units[name] = r
}

// FailNext makes the next ObserveUnit return err.
func (f *fakeUnits) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failErr = err
}

func (f *fakeUnits) ObserveUnit(ctx context.Context, q UnitQuery) (UnitReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if err := f.failErr; err != nil {
		f.failErr = nil
		return UnitReport{}, err
	}
	if err := ctx.Err(); err != nil {
		return UnitReport{}, err
	}
	r, ok := f.units[q.Name]
	if !ok {
		// Like systemd for a unit it has never heard of.
		return UnitReport{Unit: Unit{Manager: q.Manager, Available: true, Scope: q.Scope, Name: q.Name,
			File: UnitFile{Path: q.Path}, LoadState: "not-found", ActiveState: "inactive"}}, nil
	}
	r.Stale = slices.Clone(r.Stale)
	return r, nil
}

func TestFakeUnits(t *testing.T) {
	f := newFakeUnits()
	f.Put("parachute-hub.service", UnitReport{Unit: Unit{Name: "parachute-hub.service", ActiveState: "active", MainPID: 7}})
	r, err := f.ObserveUnit(context.Background(), UnitQuery{Name: "parachute-hub.service"})
	if err != nil || r.Unit.MainPID != 7 {
		t.Fatalf("known unit = %+v, %v", r, err)
	}
	r, err = f.ObserveUnit(context.Background(), UnitQuery{Name: "other.service", Manager: "systemd"})
	if err != nil || r.Unit.LoadState != "not-found" || !r.Unit.Available {
		t.Fatalf("unknown unit = %+v, %v", r, err)
	}
	f.FailNext(fmt.Errorf("boom"))
	if _, err := f.ObserveUnit(context.Background(), UnitQuery{}); err == nil {
		t.Fatal("FailNext: want error")
	}
	if _, err := f.ObserveUnit(context.Background(), UnitQuery{Name: "parachute-hub.service"}); err != nil {
		t.Fatalf("failure must be one-shot: %v", err)
	}
	if len(f.queries) != 4 {
		t.Errorf("recorded %d queries, want 4", len(f.queries))
	}
}
