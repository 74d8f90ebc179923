#!/usr/bin/env bash
# Builds the example box's programs (standin-hub, standin-module, layout)
# into a bin directory and prints its absolute path.
#
#   examples/build.sh [BIN_DIR]      (default: examples/bin)
#
# layout expects the two stand-ins beside it (or --hub-binary and
# --module-binary), and lays its `bun` and `parachute` links into the --bin
# directory it is given.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/bin}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$here/.."
for prog in standin-hub standin-module layout; do
	go build -o "$out/$prog" "./examples/$prog"
done
echo "$out"
