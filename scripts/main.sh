#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the main job on the
# default data (Fashion-MNIST from Debian's dataset-fashion-mnist package).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/kelvin demo "$@"
