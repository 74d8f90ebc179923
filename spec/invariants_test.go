package spec

import (
	"path/filepath"
	"strings"
)

// tester is what checkAccounting needs from *testing.T and *rapid.T.
type tester interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// checkAccounting asserts the reader's invariants on any successful parse:
// every row is kept or skipped exactly once; Skipped is in file order with a
// cause and a reason; every kept module is safe to follow to a pidfile,
// has a valid port, and no two kept non-vault rows share a port.
func checkAccounting(t tester, data []byte, m Manifest) {
	t.Helper()
	root, err := parseJS(data)
	if err != nil {
		t.Fatalf("checkAccounting on unparseable data: %v", err)
	}
	rows := len(root.get("services").arr)
	if got := len(m.Modules) + len(m.Skipped); got != rows {
		t.Errorf("kept %d + skipped %d = %d, want %d rows", len(m.Modules), len(m.Skipped), got, rows)
	}
	last := -1
	for _, s := range m.Skipped {
		if s.Index <= last {
			t.Errorf("Skipped not in strictly increasing index order: %d after %d", s.Index, last)
		}
		last = s.Index
		if s.Reason == "" || s.Cause == "" {
			t.Errorf("skipped row %d lacks a cause or reason: %+v", s.Index, s)
		}
		if s.Index < 0 || s.Index >= rows {
			t.Errorf("skipped row index %d out of range 0..%d", s.Index, rows-1)
		}
	}
	home := "/home/op/.parachute"
	firstOnPort := map[int]string{}
	for _, mod := range m.Modules {
		if mod.Name == "" {
			t.Errorf("kept a module with an empty name: %+v", mod)
		}
		if mod.Port < 1 || mod.Port > 65535 {
			t.Errorf("kept module %q with port %d", mod.Name, mod.Port)
		}
		if why := unsafeShort(mod.Short); why != "" {
			t.Errorf("kept module %q with unsafe short %q: %s", mod.Name, mod.Short, why)
		}
		pid := PidfilePath(home, mod.Short)
		if !strings.HasPrefix(pid, home+"/") || filepath.Dir(filepath.Dir(pid)) != filepath.Join(home, mod.Short) ||
			filepath.Dir(filepath.Dir(filepath.Dir(pid))) != home {
			t.Errorf("module %q: pidfile %s escapes %s/<short>/run/", mod.Name, pid, home)
		}
		for _, l := range mod.LegacyShorts {
			if l == mod.Short {
				t.Errorf("module %q: LegacyShorts includes its own short %q", mod.Name, l)
			}
		}
		if prev, ok := firstOnPort[mod.Port]; ok && !(IsVaultName(prev) && IsVaultName(mod.Name)) {
			t.Errorf("kept %q and %q on one port %d", prev, mod.Name, mod.Port)
		} else if !ok {
			firstOnPort[mod.Port] = mod.Name
		}
	}
}
