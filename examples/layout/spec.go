package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// specYAML is the reconciler's spec file for this box (docs/design.md): the hub
// command points at the stand-in bun and the laid-out cli.ts, exactly what
// discovery would find with PATH=<bin>:$PATH. Strings are JSON-quoted, which
// YAML reads as double-quoted scalars.
func (b box) specYAML() string {
	var sb strings.Builder
	sb.WriteString("# Spec for the example box laid out by examples/layout.\n")
	sb.WriteString("# Every key is described in examples/spec.yaml.\n")
	sb.WriteString("desired: supervised\n")
	fmt.Fprintf(&sb, "home: %s\n", quote(b.cfg.home))
	sb.WriteString("hub:\n")
	fmt.Fprintf(&sb, "  port: %d\n", b.cfg.hubPort)
	fmt.Fprintf(&sb, "  command: [%s, %s, %s]\n", quote(b.bun), quote(b.cliTS), quote("serve"))
	return sb.String()
}

func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}
