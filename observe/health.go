package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// maxHealthBody bounds how much of the /health body is read.
const maxHealthBody = 64 << 10

// healthConn is the health check's connection, held open after the answer so
// that the walk over /proc can find the process on its server side.
type healthConn struct {
	conn net.Conn
	// client is our end's address; the server-side socket has it as remote.
	client netip.AddrPort
}

// close closes the connection; it is safe to call more than once.
func (h *healthConn) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

// checkHealth asks GET http://127.0.0.1:<port>/health over one connection it
// opens itself (never a pooled one, never through a proxy, never following a
// redirect: a 3xx is recorded as the answer), within env.HealthTimeout. The
// connection is returned open; the caller closes it once the walk has
// looked for the process on its server side.
// AnsweredBy is left for the caller, who knows the sockets.
//
// The request is written by hand (httpGet) rather than through an
// http.Client so the connection's lifetime is ours: a client would pool it
// or close it as the server's headers say.
func checkHealth(ctx context.Context, env Env, port int) (Health, *healthConn) {
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/health"
	h := Health{URL: url}
	hc := &healthConn{}
	conn, ans, err := getLoopback(ctx, env, port, "/health", "Accept: application/json\r\n", maxHealthBody, env.HealthTimeout)
	if conn == nil {
		h.Error = fmt.Sprintf("GET %s: %v", url, err)
		return h, hc
	}
	hc.conn = conn
	if ap, err := netip.ParseAddrPort(conn.LocalAddr().String()); err == nil {
		hc.client = ap
	}
	if ans.Status == 0 {
		h.Error = fmt.Sprintf("GET %s: %v", url, err)
		return h, hc
	}
	h.Status = ans.Status
	h.OK = ans.Status >= 200 && ans.Status < 300
	if err != nil {
		h.Error = fmt.Sprintf("GET %s: read body: %v", url, err)
	}
	parseHealthBody(ans.Body, &h)
	return h, hc
}

// getLoopback is GET path on 127.0.0.1:port within timeout (and ctx: a
// cancelled ctx ends the read at once), over a connection of its own that
// it returns open, nil when the dial failed; see httpGet for the answer.
func getLoopback(ctx context.Context, env Env, port int, path, extra string, maxBody int64, timeout time.Duration) (net.Conn, httpAnswer, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := env.Dial(ctx, "tcp4", addr)
	if err != nil {
		return nil, httpAnswer{}, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ans, err := httpGet(conn, addr, path, extra, maxBody)
	return conn, ans, err
}

// parseHealthBody takes service, version, instance and db from a JSON object
// body, as the hub's probeHealthVersion: non-string or empty values are left
// out, and a body that is not a JSON object leaves them all empty.
func parseHealthBody(body []byte, h *Health) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return
	}
	str := func(key string) string {
		var s string
		if raw, ok := fields[key]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	h.Service = str("service")
	h.Version = str("version")
	h.Instance = str("instance")
	h.DB = str("db")
}
