#!/usr/bin/env bash
# Times observe's port-owner scan against one `lsof -ti :PORT -sTCP:LISTEN`
# per port and one `ss -ltn`/`ss -ltnp`, for 10, 100 and 500 listening ports,
# and prints a Markdown table. Needs lsof and ss (Debian: lsof, iproute2).
# Takes well under two minutes. Extra arguments go to the Go program
# (-ports, -runs, -lsof-sample).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in lsof ss; do
	command -v "$tool" >/dev/null || { echo "observe.sh: $tool not found: apt-get install lsof iproute2" >&2; exit 1; }
done
exec go run ./bench/observebench "$@"
