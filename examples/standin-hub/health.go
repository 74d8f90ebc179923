package main

import (
	"encoding/json"
	"net/http"
	"strings"
)

// healthBody is GET /health's JSON, fields in the hub's order (§6.1).
type healthBody struct {
	Status   string `json:"status"`
	Service  string `json:"service"`
	Version  string `json:"version"`
	DB       string `json:"db"`
	Instance string `json:"instance,omitempty"` // only `parachute serve` reports one
}

// apiError is the hub's error shape.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// handler answers /health and, for module-ops routes, the error a caller
// without a token (serve) or without a supervisor (hub-server) gets; anything
// else is 404.
func handler(instance string, supervised bool) http.Handler {
	health, _ := json.Marshal(healthBody{Status: "ok", Service: "parachute-hub", Version: version, DB: "ok", Instance: instance})
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, apiError{"method_not_allowed", "use GET"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(health)
	})
	mux.HandleFunc("/api/modules", func(w http.ResponseWriter, r *http.Request) { moduleOps(w, supervised) })
	mux.HandleFunc("/api/modules/", func(w http.ResponseWriter, r *http.Request) {
		if strings.Count(strings.Trim(r.URL.Path, "/"), "/") < 2 {
			http.NotFound(w, r)
			return
		}
		moduleOps(w, supervised)
	})
	return mux
}

// moduleOps is the stand-in's whole module-ops API: it has no tokens, so a
// supervised hub answers 401 and a hub-server (no supervisor) 503.
func moduleOps(w http.ResponseWriter, supervised bool) {
	if !supervised {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"supervisor_unavailable", "this hub runs no module supervisor (hub-server mode)"})
		return
	}
	writeJSON(w, http.StatusUnauthorized, apiError{"unauthenticated", "the stand-in hub accepts no operator token"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
