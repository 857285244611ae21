#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test.
# GPU tests report as skipped on machines without a CUDA device. Then the same CUDA kernels run
# on the host CUDA emulator (tests/cuda_emulator, build-emu/) against the CPU references: no
# GPU is involved there, and it is reported on a line of its own, never as GPU tests passed.
# KELVIN_SKIP_EMULATOR=1 leaves that part out. After the main suite, scripts/slurm-test.sh runs
# sweeps as job arrays on a private Slurm (KELVIN_SKIP_SLURM=1 leaves it out). Last, scripts/fuzz.sh fuzzes every parser for a
# bounded time (build-fuzz/, clang; ~10 s per target) and runs the parser tests under
# ASan+UBSan there; KELVIN_SKIP_FUZZ=1 leaves both out.
set -euo pipefail
cd "$(dirname "$0")/.."
# How long each part took, printed at the end: CI has a time budget (README, "Tests").
part_times=""
part_started=$SECONDS
part_done() { part_times+="$1 $((SECONDS - part_started)) s; "; part_started=$SECONDS; }

KELVIN_WITH_CHROMIUM=1 bash scripts/install-deps.sh   # chromium renders the report in a test
part_done "install"
# ccache: the emulator build (build-emu/) compiles about half its files exactly as build/ does
# (those that include no CUDA header: ccache's preprocessed mode finds them equal), and a rerun on
# the same machine recompiles only what changed. Paths relative to the repository root, so that
# build/ and build-emu/ (and other clones) share entries. CMake reads the launcher from the
# environment when it first configures a build folder.
if command -v ccache > /dev/null; then
  export CCACHE_BASEDIR=$PWD
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
# KELVIN_ENABLE_CUDA=ON explicitly: scripts/main.sh may have configured build/ without CUDA on
# a machine with no GPU, and the tests compile the CUDA kernels wherever nvcc exists.
bash scripts/build.sh -DKELVIN_ENABLE_CUDA=ON
part_done "build"

# The default build on emulated CPUs without AVX-512 / without AVX (scripts/check-cpu-isas.sh):
# an instruction leaking into the wrong kernel path fails here. KELVIN_SKIP_QEMU=1 leaves it out.
# It runs in the background from here to the end: it only reads build/ and keeps about one core
# busy for ~3.5 minutes, which the parts below (single-threaded fuzzers, Slurm's waits) leave
# idle; its log is printed when it is waited for.
isa_check="skipped (KELVIN_SKIP_QEMU=1)"
isa_pid=""
if [[ "${KELVIN_SKIP_QEMU:-0}" != 1 ]]; then
  isa_log=$(mktemp)
  bash scripts/check-cpu-isas.sh build > "$isa_log" 2>&1 &
  isa_pid=$!
  # Not left running if this script stops early (set -e); a no-op once it has been waited for.
  trap 'kill "$isa_pid" 2> /dev/null || true' EXIT
fi

# doctest's summary line of a log as "N passed, N failed, N skipped"; empty when there is none
# (a run that crashed before its summary).
summary_of() {
  { grep -E '^\[doctest\] test cases:' "$1" || true; } | tail -1 |
    sed -E 's/.*\| *([0-9]+) passed \| *([0-9]+) failed \| *([0-9]+) skipped.*/\1 passed, \2 failed, \3 skipped/'
}

# The "N passed, N failed" a script printed last after "PREFIX: " in LOG; empty when none.
counts_after() { { grep -E "^$1: [0-9]+ passed" "$2" || true; } | tail -1 | sed "s/^$1: //"; }
# The N failed of such counts; 1 when there are none to read (the script stopped early).
failures_of() { if [[ -n $1 ]]; then echo "$1" | sed -E 's/.* ([0-9]+) failed.*/\1/'; else echo 1; fi; }

status=0
emulated=""
emulated_failed=0
if [[ "${KELVIN_SKIP_EMULATOR:-0}" != 1 ]]; then
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S . -B build-emu -DCMAKE_BUILD_TYPE=Release -DKELVIN_CUDA_EMULATOR=ON > /dev/null
  cmake --build build-emu -j"$jobs" --target kelvin_tests
  # Only the tests that run CUDA code (their names say cuda or GPU); the CPU tests run below.
  # The emulator runs a kernel's threads one after another on one core, so the tests go in two
  # processes side by side: the two end-to-end runs of train and diagnose (~65 s together) in
  # one, everything else (a full-width VGG step through kelvin's kernels and cuDNN's is ~45 s of
  # it) in the other. A renamed test only unbalances them: the second process runs whatever the
  # first one's patterns do not name.
  end_to_end='train --device cuda*,diagnose --device cuda*'
  shard_a=$(mktemp) shard_b=$(mktemp)
  (cd build-emu && ./kelvin_tests -tc="$end_to_end" "$@") > "$shard_a" 2>&1 & shard_a_pid=$!
  (cd build-emu && ./kelvin_tests -tc='*cuda*,*gpu*' -tce="$end_to_end" "$@") > "$shard_b" 2>&1 || status=$?
  wait "$shard_a_pid" || status=$?
  cat "$shard_a" "$shard_b"
  # doctest counts the tests filtered out (the CPU ones, run below) as skipped: leave that out.
  emulated_a=$(summary_of "$shard_a" | sed -E 's/, [0-9]+ skipped$//')
  emulated_b=$(summary_of "$shard_b" | sed -E 's/, [0-9]+ skipped$//')
  rm -f "$shard_a" "$shard_b"
  if [[ -z "$emulated_a" || -z "$emulated_b" ]]; then
    emulated="no summary (a test binary stopped early)"; emulated_failed=1
  else
    read -r pa fa < <(echo "$emulated_a" | sed -E 's/([0-9]+) passed, ([0-9]+) failed/\1 \2/')
    read -r pb fb < <(echo "$emulated_b" | sed -E 's/([0-9]+) passed, ([0-9]+) failed/\1 \2/')
    emulated="$((pa + pb)) passed, $((fa + fb)) failed"; emulated_failed=$((fa + fb))
  fi
  part_done "emulator"
fi

# The default build on emulated CPUs without AVX-512 / without AVX (about 2 minutes):
# an instruction leaking into the wrong kernel path fails here. KELVIN_SKIP_QEMU=1 leaves it out.
# The aarch64 build (scripts/check-aarch64.sh): the CPU kernels with the conv kernel tests, then
# kelvin and kelvin_tests against Debian's arm64 OpenBLAS/LAPACKE (build-aarch64/, -O1), the
# in-process tests and a 2-step kelvin train --diagnose under qemu-aarch64 (~70 s with ccache's
# entries, ~3.5 min without). Also left out by KELVIN_SKIP_QEMU=1.
aarch64_check="skipped (KELVIN_SKIP_QEMU=1)"
if [[ "${KELVIN_SKIP_QEMU:-0}" != 1 ]]; then
  if bash scripts/check-aarch64.sh; then aarch64_check="passed"; else aarch64_check="FAILED"; status=1; fi
  [[ $aarch64_check == passed && "${KELVIN_AARCH64_KERNELS_ONLY:-0}" == 1 ]] &&
    aarch64_check="passed, KERNELS ONLY (KELVIN_AARCH64_KERNELS_ONLY=1: no engine, CLI or tests)"
  part_done "aarch64"
fi

# Static resources of every CUDA kernel (sm_90 ptxas report): no spill beyond those recorded
# at their launch, no occupancy below its launch's promise (scripts/cuda-resources.sh, ~1-2 min
# on two cores, seconds with ccache). Needs nvcc, not a GPU.
resources_failed=0
if command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  resources_log=$(mktemp)
  if bash scripts/cuda-resources.sh --check > /dev/null 2> "$resources_log"; then
    resources="$(tail -1 "$resources_log")"
  else
    cat "$resources_log"; resources="FAILED (above)"; resources_failed=1; status=1
  fi
  rm -f "$resources_log"
  part_done "cuda-resources"
else
  resources="not checked: no nvcc on this machine"
fi

log=$(mktemp)
(cd build && ./kelvin_tests "$@") 2>&1 | tee "$log" || status=$?
summary=$(summary_of "$log")
rm -f "$log"
part_done "main-suite"
# Data-parallel training across 2 MPI processes (scripts/test-distributed.sh, ~45 s on 2 cores).
distributed_log=$(mktemp)
# With the emulator build, also the NCCL code path on emulated CUDA (NCCL served by MPI).
distributed_emu=""; [[ "${KELVIN_SKIP_EMULATOR:-0}" != 1 ]] && distributed_emu=build-emu
bash scripts/test-distributed.sh build $distributed_emu 2>&1 | tee "$distributed_log" || status=1
distributed=$(counts_after distributed "$distributed_log")
distributed_failed=$(failures_of "$distributed")
rm -f "$distributed_log"
[[ -n "$distributed" ]] || distributed="no summary (the script stopped early)"
part_done "distributed"
# Sweeps as Slurm job arrays on a real private Slurm started and stopped by the script
# (scripts/slurm-test.sh: submit, preempt + requeue, two workers on one run; ~70 s on 2 cores).
# KELVIN_SKIP_SLURM=1 leaves it out.
slurm_check="skipped (KELVIN_SKIP_SLURM=1)"
slurm_failed=0
if [[ "${KELVIN_SKIP_SLURM:-0}" != 1 ]]; then
  slurm_log=$(mktemp)
  if bash scripts/slurm-test.sh build 2>&1 | tee "$slurm_log"; then
    slurm_check=$(tail -n 1 "$slurm_log" | sed 's/^slurm tests: //')
  else
    slurm_check="FAILED ($(grep -m1 'slurm tests: FAILED' "$slurm_log" | sed 's/^slurm tests: FAILED: //'))"
    slurm_failed=1; status=1
  fi
  rm -f "$slurm_log"
fi
part_done "slurm"
fuzz_failed=0
nompi_failed=0
if [[ "${KELVIN_SKIP_FUZZ:-0}" != 1 ]]; then
  bash scripts/fuzz.sh || { fuzz_failed=1; status=1; }
  # The parser, checkpoint, lock and interruption tests under ASan+UBSan, in the same clang
  # build (42 s here, build included).
  KELVIN_SANITIZE_PARSERS=1 bash scripts/sanitize.sh || { fuzz_failed=1; status=1; }
  part_done "fuzz+sanitize"
  # build-fuzz/ is configured without MPI (scripts/fuzz.sh): its CLI is the no-MPI build's check.
  nompi_log=$(mktemp)
  bash scripts/check-no-mpi.sh build-fuzz 2>&1 | tee "$nompi_log" || status=1
  nompi_check=$(counts_after "no-MPI build" "$nompi_log")
  nompi_failed=$(failures_of "$nompi_check")
  ((nompi_failed == 0)) || status=1
  [[ -n $nompi_check ]] || nompi_check="no summary (the script stopped early)"
  rm -f "$nompi_log"
  part_done "no-mpi"
fi
if [[ -n "$isa_pid" ]]; then
  if wait "$isa_pid"; then isa_check="passed"; else isa_check="FAILED"; status=1; fi
  cat "$isa_log"; rm -f "$isa_log"
  part_done "qemu (rest, after the others)"
fi
[[ -n "$emulated" ]] && echo "CUDA kernels on the host emulator (not a GPU): $emulated"
echo "CPU kernel paths on emulated AVX2 / no-AVX CPUs (qemu): $isa_check"
echo "aarch64 cross build (kernels, engine, CLI), tests and kelvin train under qemu-aarch64: $aarch64_check"
[[ "${KELVIN_SKIP_FUZZ:-0}" != 1 ]] && echo "fuzzers and sanitized parser tests: $([[ $fuzz_failed == 0 ]] && echo "no findings" || echo "FINDINGS (counted as 1 failure)")"
echo "CUDA kernel resources (ptxas, sm_90): $resources"
echo "a kelvin built without MPI (scripts/check-no-mpi.sh on build-fuzz/): ${nompi_check:-skipped (KELVIN_SKIP_FUZZ=1)}"
echo "data-parallel training over MPI, 2 ranks (scripts/test-distributed.sh): $distributed"
echo "Slurm job-array sweeps on a private Slurm (sbatch, scancel --signal, requeue, locks): $slurm_check"
echo "time per part: $part_times"
# The plain closing line CI reads: "tests: N passed, N failed, N skipped". Passed and skipped
# are the main suite's (its GPU tests skipped without a device); failed also counts the
# emulator's failures, so no failure anywhere can end on "0 failed".
if [[ -n "$summary" ]]; then
  read -r passed failed skipped < <(echo "$summary" | sed -E 's/([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/')
else
  passed=0; failed=1; skipped=0   # the main suite stopped before its summary
fi
isa_failed=0; [[ $isa_check == FAILED ]] && isa_failed=1
[[ $aarch64_check == FAILED ]] && isa_failed=$((isa_failed + 1))
echo "tests: $passed passed, $((failed + emulated_failed + isa_failed + fuzz_failed + resources_failed + distributed_failed + slurm_failed + nompi_failed)) failed, $skipped skipped"
exit $status
