#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test.
# GPU tests report as skipped on machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
KELVIN_WITH_CHROMIUM=1 bash scripts/install-deps.sh   # chromium renders the report in a test
bash scripts/build.sh
log=$(mktemp)
status=0
(cd build && ./kelvin_tests "$@") 2>&1 | tee "$log" || status=$?
# doctest's summary as the plain closing line CI reads: "tests: N passed, N failed, N skipped".
summary=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1 || true)
rm -f "$log"
if [[ -n "$summary" ]]; then
  read -r passed failed skipped < <(echo "$summary" |
    sed -E 's/.*\| *([0-9]+) passed \| *([0-9]+) failed \| *([0-9]+) skipped.*/\1 \2 \3/')
  echo "tests: $passed passed, $failed failed, $skipped skipped"
fi
exit $status
