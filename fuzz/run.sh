#!/usr/bin/env bash
# Run every atheris harness for a fixed time: bash fuzz/run.sh [SECONDS]
# Not part of the test suite; crashes are written as crash-* files in the working folder.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "${BASH_SOURCE[0]}")"
for harness in fuzz_*.py; do
    name="${harness%.py}"
    mkdir -p "corpus/$name"
    echo "=== $name for ${seconds}s"
    python "$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "corpus/$name"
done
