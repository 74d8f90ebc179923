package observe

import (
	"net/netip"
	"testing"

	"github.com/prometheus/procfs"
)

// BenchmarkFdWalk compares one walk over /proc finding the holders of 100
// listening sockets, done by procFS (os.Readlink per fd, hand-parsed stat)
// and by github.com/prometheus/procfs (AllProcs, Proc.Stat,
// Proc.FileDescriptorTargets). It is the evidence for not using procfs on
// the hot path (procfs_linux.go).
func BenchmarkFdWalk(b *testing.B) {
	d := listeners(b, 100)
	want := map[uint16]bool{}
	for _, m := range d.Manifest.Modules {
		want[uint16(m.Port)] = true
	}
	pr := newProcFS("/proc")
	socks, _, probs := pr.sockets(want, netip.AddrPort{}, 0)
	if len(probs) > 0 || len(socks) != 100 {
		b.Fatalf("found %d sockets, problems %q", len(socks), probs)
	}
	inodes := map[uint64]bool{}
	for _, s := range socks {
		inodes[s.Inode] = true
	}

	b.Run("procFS", func(b *testing.B) {
		for b.Loop() {
			w, err := pr.walk(inodes)
			if err != nil || len(w.owners) != 100 {
				b.Fatalf("owners %d, err %v", len(w.owners), err)
			}
		}
	})
	b.Run("prometheus-procfs", func(b *testing.B) {
		fs, err := procfs.NewDefaultFS()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			procs, err := fs.AllProcs()
			if err != nil {
				b.Fatal(err)
			}
			owners := map[uint64][]int{}
			for _, p := range procs {
				if _, err := p.Stat(); err != nil {
					continue
				}
				targets, err := p.FileDescriptorTargets()
				if err != nil {
					continue
				}
				for _, tg := range targets {
					if ino, ok := socketInode([]byte(tg)); ok && inodes[ino] {
						owners[ino] = append(owners[ino], p.PID)
					}
				}
			}
			if len(owners) != 100 {
				b.Fatalf("owners %d", len(owners))
			}
		}
	})
}
