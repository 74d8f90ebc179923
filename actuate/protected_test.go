//go:build linux || darwin

package actuate

import "testing"

// The guard refuses pid 1, this process, its parent and their groups, and
// nothing else; no signal is sent here.
func TestProtectedRefuses(t *testing.T) {
	o := protected{self: 100, parent: 99, group: 100, parentGroup: 50}
	for _, tc := range []struct {
		pid, pgid int
		refused   bool
	}{
		{1, 0, true}, {0, 0, true}, {100, 0, true}, {99, 0, true}, {200, 0, false},
		{0, 1, true}, {0, 100, true}, {0, 50, true}, {0, 99, true}, {0, 200, false},
	} {
		if got := o.refuse(tc.pid, tc.pgid) != nil; got != tc.refused {
			t.Errorf("refuse(pid %d, pgid %d) = %v, want %v", tc.pid, tc.pgid, got, tc.refused)
		}
	}
}
