package unitfile

import "testing"

// A value continued over lines is one value with a space for each trailing
// backslash (systemd.syntax(7)): split and compared as systemd reads it.
func TestParseSystemdJoinsContinuedLines(t *testing.T) {
	opts, err := ParseSystemd([]byte("[Service]\nExecStart=/bin/a \\\n  b\nEnvironment=A=1 \\\nB=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := opts.Values("Service", "ExecStart"); len(got) != 1 || got[0] != "/bin/a    b" {
		t.Errorf("ExecStart = %q, want one value %q", got, "/bin/a    b")
	}
	diffs, err := CompareSystemd([]byte("[Service]\nExecStart=/bin/a b\nEnvironment=A=1 B=2\n"), []byte("[Service]\nExecStart=/bin/a \\\n  b\nEnvironment=A=1 \\\nB=2\n"))
	if err != nil || len(diffs) != 0 {
		t.Errorf("a continued line differs from the one-line spelling: %q, %v", diffs, err)
	}
}
