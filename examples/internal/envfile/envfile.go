package envfile

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// Var is one KEY=value pair.
type Var struct {
	Key   string
	Value string
}

// Parse reads .env text with the hub's rules (src/env-file.ts): split on
// "\n"; a line whose first "=" is at index 1 or later yields key = the text
// before it (not trimmed) and value = the rest, with one level of matching
// surrounding double or single quotes stripped. There is no comment, export
// or escape handling: "# x=1" is a variable named "# x". Lines without "="
// (or starting with it) are ignored. Order is kept; a repeated key appears
// twice and the later one wins once overlaid.
func Parse(text string) []Var {
	var vars []Var
	for _, line := range strings.Split(text, "\n") {
		eq := strings.IndexByte(line, '=')
		if eq < 1 {
			continue
		}
		vars = append(vars, Var{Key: line[:eq], Value: unquote(line[eq+1:])})
	}
	return vars
}

// unquote strips one level of matching surrounding quotes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// Read parses the file at path; a missing file is no variables, not an error.
func Read(path string) ([]Var, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(string(b)), nil
}

// Without returns vars minus every pair whose key is one of keys (the
// supervisor drops a .env PORT: services.json's port always wins, hub#537).
func Without(vars []Var, keys ...string) []Var {
	var out []Var
	for _, v := range vars {
		drop := false
		for _, k := range keys {
			if v.Key == k {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, v)
		}
	}
	return out
}

// Overlay returns base (a "KEY=value" list as os.Environ gives it) with vars
// laid over it in order, like JavaScript's {...process.env, ...vars}: a key
// already present keeps its position and takes the new value, a new key is
// appended. base is not modified.
func Overlay(base []string, vars ...Var) []string {
	out := make([]string, 0, len(base)+len(vars))
	index := make(map[string]int, len(base)+len(vars))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	for _, v := range vars {
		kv := v.Key + "=" + v.Value
		if i, ok := index[v.Key]; ok {
			out[i] = kv
			continue
		}
		index[v.Key] = len(out)
		out = append(out, kv)
	}
	return out
}
