package sandbox

import (
	"strings"
	"testing"
)

func TestFreeID(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\nnobody:x:65534:65534::/:/usr/sbin/nologin\n"
	group := "root:x:0:\nalice:x:1000:\nstaff:x:1001:\nbob:x:1002:\n"
	got, err := freeID(strings.NewReader(passwd), strings.NewReader(group), "carol")
	if err != nil || got != 1003 {
		t.Errorf("freeID = %d, %v; want 1003 (1000-1002 taken as uid or gid)", got, err)
	}
	if _, err := freeID(strings.NewReader(passwd), strings.NewReader(group), "bob"); err == nil {
		t.Error("existing user accepted")
	}
	if _, err := freeID(strings.NewReader(passwd), strings.NewReader(group), "staff"); err == nil {
		t.Error("existing group name accepted")
	}
	got, err = freeID(strings.NewReader(""), strings.NewReader(""), "x")
	if err != nil || got != firstUserID {
		t.Errorf("empty files: %d, %v", got, err)
	}
}

func TestValidUserName(t *testing.T) {
	for name, ok := range map[string]bool{
		"pcuser": true, "_svc": true, "a-b_1": true,
		"": false, "Root": false, "1abc": false, "a b": false, "a:b": false,
		"abcdefghijklmnopqrstuvwxyzabcdef": false,
	} {
		if err := validUserName(name); (err == nil) != ok {
			t.Errorf("validUserName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestUserEnv(t *testing.T) {
	u := User{Name: "pcuser", UID: 1500, GID: 1500, Home: "/home/pcuser"}
	env := strings.Join(u.Env(), "\n")
	for _, want := range []string{
		"XDG_RUNTIME_DIR=/run/user/1500",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1500/bus",
		"HOME=/home/pcuser", "USER=pcuser",
	} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("Env lacks %s:\n%s", want, env)
		}
	}
}
