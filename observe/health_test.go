package observe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverPort starts a loopback HTTP server and returns its port.
func serverPort(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

func TestCheckHealth(t *testing.T) {
	var mu sync.Mutex
	var remote string
	var redirectedTo int
	mux := http.NewServeMux()
	body := map[string]string{
		"ok":       `{"status":"ok","service":"parachute-hub","version":"0.7.15","db":"error: path-gone","instance":"i-1"}`,
		"odd":      `{"service":"parachute-hub","version":7,"db":"","instance":null}`,
		"text":     `hello, not json`,
		"array":    `["service"]`,
		"redirect": "",
		"down":     `{"status":"down"}`,
	}
	var mode string
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remote = r.RemoteAddr
		m := mode
		mu.Unlock()
		switch m {
		case "redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte(body[m]))
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirectedTo++
		mu.Unlock()
	})
	port := serverPort(t, mux)
	env := Env{}.withDefaults()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/health"

	tests := []struct {
		mode string
		want Health
	}{
		{"ok", Health{URL: url, Status: 200, OK: true, Service: "parachute-hub", Version: "0.7.15", DB: "error: path-gone", Instance: "i-1"}},
		{"odd", Health{URL: url, Status: 200, OK: true, Service: "parachute-hub"}},
		{"text", Health{URL: url, Status: 200, OK: true}},
		{"array", Health{URL: url, Status: 200, OK: true}},
		{"redirect", Health{URL: url, Status: 302}},
		{"down", Health{URL: url, Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			mu.Lock()
			mode = tt.mode
			mu.Unlock()
			h, hc := checkHealth(context.Background(), env, port)
			defer hc.close()
			if h != tt.want {
				t.Errorf("health = %+v, want %+v", h, tt.want)
			}
			if hc.conn == nil {
				t.Fatal("connection not held open after the answer")
			}
			mu.Lock()
			defer mu.Unlock()
			if hc.client.String() != remote {
				t.Errorf("client address %s, server saw %s", hc.client, remote)
			}
		})
	}
	if redirectedTo != 0 {
		t.Errorf("the redirect was followed %d times", redirectedTo)
	}
}

func TestCheckHealthFailures(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		h, hc := checkHealth(context.Background(), Env{}.withDefaults(), port)
		hc.close()
		if h.Status != 0 || h.OK || !strings.Contains(h.Error, "refused") || hc.client.IsValid() {
			t.Errorf("health = %+v client %v", h, hc.client)
		}
	})
	t.Run("silent server times out", func(t *testing.T) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		done := make(chan struct{})
		go func() { // accept and say nothing
			defer close(done)
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					c.Close()
					return
				}
			}
		}()
		env := Env{HealthTimeout: 50 * time.Millisecond}.withDefaults()
		h, hc := checkHealth(context.Background(), env, l.Addr().(*net.TCPAddr).Port)
		hc.close()
		<-done
		if h.Status != 0 || h.OK || !strings.Contains(h.Error, "timeout") {
			t.Errorf("health = %+v, want a timeout error", h)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := l.Accept()
			if err != nil {
				return
			}
			cancel() // the request is on its way: cancel while it waits
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					c.Close()
					return
				}
			}
		}()
		h, hc := checkHealth(ctx, Env{HealthTimeout: time.Minute}.withDefaults(), l.Addr().(*net.TCPAddr).Port)
		hc.close()
		<-done
		if h.OK || h.Error == "" {
			t.Errorf("health = %+v, want an error after cancel", h)
		}
	})
}
