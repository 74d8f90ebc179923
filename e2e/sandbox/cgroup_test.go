package sandbox

import (
	"strings"
	"testing"
)

func TestFindCgroup2Mount(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo string
		want            cgroup2Mount
		wantErr         bool
	}{
		{
			name: "hybrid host",
			mountinfo: `22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory
`,
			want: cgroup2Mount{Point: "/sys/fs/cgroup/unified", Root: "/"},
		},
		{
			name:      "unified, no optional fields, escaped space",
			mountinfo: "30 1 0:26 /a\\040b /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			want:      cgroup2Mount{Point: "/sys/fs/cgroup", Root: "/a b"},
		},
		{
			name:      "v1 only",
			mountinfo: "27 25 0:24 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n",
			wantErr:   true,
		},
		{name: "garbage", mountinfo: "x y z\n- cgroup2\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findCgroup2Mount(strings.NewReader(tc.mountinfo))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOwnCgroup2Path(t *testing.T) {
	got, err := ownCgroup2Path(strings.NewReader("9:name=systemd:/\n4:memory:/x/y\n0::/user.slice/a.scope\n"))
	if err != nil || got != "/user.slice/a.scope" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ownCgroup2Path(strings.NewReader("4:memory:/x\n")); err == nil {
		t.Error("v1-only cgroup file accepted")
	}
	if _, err := ownCgroup2Path(strings.NewReader("0::relative\n")); err == nil {
		t.Error("relative path accepted")
	}
}

func TestCgroupDir(t *testing.T) {
	for _, tc := range []struct {
		m       cgroup2Mount
		path    string
		want    string
		wantErr bool
	}{
		{cgroup2Mount{"/sys/fs/cgroup/unified", "/"}, "/", "/sys/fs/cgroup/unified", false},
		{cgroup2Mount{"/sys/fs/cgroup", "/"}, "/user.slice/u.scope", "/sys/fs/cgroup/user.slice/u.scope", false},
		{cgroup2Mount{"/sys/fs/cgroup", "/docker/abc"}, "/docker/abc/sub", "/sys/fs/cgroup/sub", false},
		{cgroup2Mount{"/sys/fs/cgroup", "/docker/abc"}, "/docker/abc", "/sys/fs/cgroup", false},
		{cgroup2Mount{"/sys/fs/cgroup", "/docker/abc"}, "/docker/abcd", "", true},
		{cgroup2Mount{"/sys/fs/cgroup", "/"}, "/..", "", true},
		{cgroup2Mount{"/sys/fs/cgroup", "/"}, "/a/../b", "", true},
	} {
		got, err := cgroupDir(tc.m, tc.path)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("cgroupDir(%+v, %q) = %q, %v; want %q, err %v", tc.m, tc.path, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestInCgroup(t *testing.T) {
	for _, tc := range []struct {
		p, base string
		want    bool
	}{
		{"/sbx-1/init.scope", "/sbx-1", true},
		{"/sbx-1", "/sbx-1", true},
		{"/sbx-10/init.scope", "/sbx-1", false},
		{"/", "/sbx-1", false},
		{"/a/sbx-1/x", "/a/sbx-1", true},
	} {
		if got := inCgroup(tc.p, tc.base); got != tc.want {
			t.Errorf("inCgroup(%q, %q) = %v, want %v", tc.p, tc.base, got, tc.want)
		}
	}
}

func TestCheckWorkDir(t *testing.T) {
	for dir, ok := range map[string]bool{
		"/srv/repo/.e2e-work/x": true,
		"/tmp/TestX/001/work":   true,
		"/home/a/b":             true,
		"":                      false,
		"rel/dir":               false,
		"/run/x":                false,
		"/proc/1":               false,
		"/dev":                  false,
		"/tmp":                  false,
		"/etc/systemd/system/x": false,
		"/runner/x":             true,
	} {
		if _, err := checkWorkDir(dir); (err == nil) != ok {
			t.Errorf("checkWorkDir(%q) = %v, want ok=%v", dir, err, ok)
		}
	}
}
