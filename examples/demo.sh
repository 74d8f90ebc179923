#!/usr/bin/env bash
# make demo: the example box, detached era → supervised (under a private
# systemd) → detached. Needs root for the sandbox; without it, shows the plan.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./examples/demo --bin bin "$@"
