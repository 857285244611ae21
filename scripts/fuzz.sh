#!/usr/bin/env bash
# Fuzzes kelvin's parsers with libFuzzer (clang, -fsanitize=fuzzer,address,undefined): IDX,
# CIFAR, image folders, safetensors, the checkpoint journal, data set specs, and the config,
# sweep and metrics JSON readers. Each target runs from a copy of its committed seed corpus
# (fuzz/corpus/<target>/) with a fixed seed for a bounded time; any crash, sanitizer report,
# non-kelvin exception or message with library text fails the script, and the input that did it
# is kept in build-fuzz/findings/<target>/.
#   bash scripts/fuzz.sh                      every target, KELVIN_FUZZ_SECONDS (10) each
#   KELVIN_FUZZ_SECONDS=3600 KELVIN_FUZZ_TARGETS="safetensors idx" bash scripts/fuzz.sh
#                                             a longer run of some targets (manual use)
#   KELVIN_FUZZ_KEEP_CORPUS=1 ...             grows build-fuzz/corpus/<target>/ across runs
#                                             instead of starting from the seeds each time
# A finding replays with: build-fuzz/fuzz/fuzz_<target> build-fuzz/findings/<target>/crash-*
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${KELVIN_FUZZ_SECONDS:-10}  # per target: the test command has a 25-minute budget on 2 cores
targets=${KELVIN_FUZZ_TARGETS:-"idx cifar image safetensors checkpoint_journal dataset_spec config_json sweep_json metrics_json"}
jobs=$(nproc 2>/dev/null || echo 2)
if ! command -v clang++ > /dev/null; then
  echo "fuzz: clang++ not found; run scripts/install-deps.sh (packages clang, libclang-rt-14-dev, libomp-dev)"
  exit 1
fi

# -O1 and line tables only: the build is most of this script's time on 2 cores (a build type of
# its own, so CMake adds no -O3 -g of Release).
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
flags+=" -O1 -gline-tables-only -Wno-pass-failed"
# Without MPI: scripts/check-no-mpi.sh then runs this build's CLI as the test command's check of a
# kelvin built without MPI (no third build for it).
launcher=()  # ccache, where installed, makes a rebuild on the same machine quick
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz "${launcher[@]}" -DCMAKE_BUILD_TYPE=Fuzz -DKELVIN_FUZZ=ON -DKELVIN_ENABLE_CUDA=OFF \
  -DKELVIN_NATIVE=OFF -DKELVIN_ENABLE_MPI=OFF -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_targets

# One target from its seed corpus for $seconds; prints one line, returns non-zero on a finding.
fuzz_one() {
  local t=$1
  local corpus=build-fuzz/corpus/$t
  [[ "${KELVIN_FUZZ_KEEP_CORPUS:-0}" == 1 ]] || rm -rf "$corpus"
  mkdir -p "$corpus" "build-fuzz/findings/$t"
  local dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=(-dict="fuzz/dict/$t.dict")
  local log=build-fuzz/findings/$t/log.txt
  local start
  start=$(date +%s)
  # -rss_limit_mb/-malloc_limit_mb: kelvin refuses allocations past 1 GiB itself (the targets set
  # engine/memory_limit), so a bigger one is a finding. -timeout: one input may take 10 s.
  if ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "build-fuzz/fuzz/fuzz_$t" "$corpus" "fuzz/corpus/$t" "${dict[@]}" -seed=1 \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=2048 \
       -max_len=16384 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t/" \
       > "$log" 2>&1; then
    local runs
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    echo "fuzz $t: no findings in $(( $(date +%s) - start )) s, $runs inputs"
  else
    echo "fuzz $t: FINDING (log and input in build-fuzz/findings/$t/)"
    grep -E "ERROR|runtime error|kelvin fuzz finding|SUMMARY|==[0-9]+==" "$log" | head -8 || tail -20 "$log"
    return 1
  fi
}

# The targets run $jobs at a time (each fuzzer is one process on one core), every one for the
# full $seconds; a finding is recorded in its own file, so none is lost to a wait's timing.
results=$(mktemp -d)
for t in $targets; do
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
  { fuzz_one "$t" || touch "$results/$t.finding"; } &
done
wait
status=0
compgen -G "$results/*.finding" > /dev/null && status=1
rm -rf "$results"
exit $status
