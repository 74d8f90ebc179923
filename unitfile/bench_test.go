package unitfile

import "testing"

func BenchmarkRenderSystemd(b *testing.B) {
	h := awkwardHub()
	for b.Loop() {
		if _, err := RenderSystemd(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareSystemd(b *testing.B) {
	want, err := RenderSystemd(opHub())
	if err != nil {
		b.Fatal(err)
	}
	got := []byte(upstreamUserUnit)
	for b.Loop() {
		if _, err := CompareSystemd(want, got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderLaunchd(b *testing.B) {
	h := macHub()
	for b.Loop() {
		if _, err := RenderLaunchd(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareLaunchd(b *testing.B) {
	want, err := RenderLaunchd(macHub())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := CompareLaunchd(want, []byte(upstreamPlist)); err != nil {
			b.Fatal(err)
		}
	}
}
