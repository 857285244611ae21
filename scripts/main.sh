#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the main job on the
# default data (Fashion-MNIST from Debian's dataset-fashion-mnist package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
KELVIN_TARGETS=kelvin bash scripts/build.sh   # the CLI only: the tests are not needed here
./build/kelvin demo "$@"
