#!/usr/bin/env bash
# Runs every benchmark; each prints its peers side by side with ratios.
set -euo pipefail
export GOCRATE=$(realpath "${1:-build/gocrate}")
cd "$(dirname "$0")"
for script in bench_*.sh; do
  printf '\n\033[1;34m### %s\033[0m\n' "$script"
  ./"$script"
done
