#!/usr/bin/env bash
# Data-parallel step time on the CPU, 1 rank vs N ranks (mpirun), with the bucket all-reduce
# overlapped with backward (--overlap-allreduce, the default) and after it
# (--overlap-allreduce=false). Prints one row per configuration: time per step, speed-up and
# scaling efficiency against 1 rank (same global batch: ideal N ranks take 1/N of the time), and
# the all-reduce's exposed time per step and share of the step (rank 0's time held in the
# all-reduce calls, final.allreduce_seconds in metrics.json: the part not hidden behind backward).
#   bash scripts/bench-distributed.sh            (defaults below)
# Environment:
#   KELVIN=build/kelvin  RANKS=2  THREADS=1 (OpenMP threads per rank, and for the 1-rank run)
#   ROUNDS=3 (median of)  STEPS="10 40" (a step's cost is (t(40) - t(10)) / 30: start-up, the
#   first steps' allocations, the final evaluation and checkpoint cancel out)
#   ARGS="--model mlp --width 1024 --depth 3 --batch-size 128 --train-subset 12800" (the run)
#   CLOCK=wall (default: kelvin's own training seconds, rank 0) or CLOCK=cpu (user + system CPU
#   seconds of every rank, summed: on a machine shared with other work this measures the work,
#   where the wall clock measures the queue for the cores; OpenMPI polls while it waits, so
#   waiting for a slower rank costs CPU time too). The all-reduce column is wall time either way.
# Wall-clock figures need an otherwise idle machine with RANKS x THREADS free cores.
set -euo pipefail
cd "$(dirname "$0")/.."
kelvin=${KELVIN:-build/kelvin}
ranks=${RANKS:-2}
threads=${THREADS:-1}
rounds=${ROUNDS:-3}
read -r s0 s1 <<< "${STEPS:-10 40}"
read -r -a run <<< "${ARGS:---model mlp --width 1024 --depth 3 --batch-size 128 --train-subset 12800}"
clock=${CLOCK:-wall}
[[ $clock == wall || $clock == cpu ]] || { echo "CLOCK is wall or cpu, not '$clock'" >&2; exit 2; }
[[ -x $kelvin ]] || { echo "no $kelvin: build it first (scripts/build.sh)" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "mpirun not found: install openmpi-bin" >&2; exit 2; }
export OMP_NUM_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# The value of python expression $2 on run $1's metrics.json (m).
metric() { python3 -c "import json; m=json.load(open('$1/metrics.json')); print($2)"; }

# One run of `steps` steps on `n` ranks with extra flags; prints "train_s allreduce_s cpu_s".
one_run() {
  local n=$1 steps=$2 out=$tmp/run; shift 2
  rm -rf "$out" "$tmp"/cpu.*
  # Each rank times itself (bash's `time`: user + system CPU seconds) into cpu.RANK.
  local timed=(bash -c 'TIMEFORMAT="%3U %3S"; { time "$@" > /dev/null 2>&1; } 2> "$CPU_OUT.${OMPI_COMM_WORLD_RANK:-0}"' _
               "$kelvin" train "${run[@]}" --epochs 1 --max-steps "$steps" --out "$out" "$@")
  if ((n == 1)); then CPU_OUT=$tmp/cpu "${timed[@]}"
  else mpirun --allow-run-as-root --oversubscribe -np "$n" -x OMP_NUM_THREADS -x CPU_OUT="$tmp/cpu" "${timed[@]}"; fi
  [[ $(metric "$out" "m['status']") == complete ]] || { echo "run failed ($n ranks, $*)" >&2; exit 1; }
  local cpu; cpu=$(cat "$tmp"/cpu.* | awk '{s += $1 + $2} END {print s}')
  echo "$(metric "$out" "sum(e['train_seconds'] for e in m['epochs'])") $(metric "$out" "m['final'].get('allreduce_seconds', 0)") $cpu"
}

# Median over the rounds of (per-step time in ms, exposed all-reduce ms per step).
per_step() {
  local n=$1; shift
  local times=() reduce=()
  for ((r = 0; r < rounds; r++)); do
    read -r t0 a0 c0 <<< "$(one_run "$n" "$s0" "$@")"
    read -r t1 a1 c1 <<< "$(one_run "$n" "$s1" "$@")"
    if [[ $clock == cpu ]]; then times+=("$(awk -v a="$c0" -v b="$c1" -v k=$((s1 - s0)) 'BEGIN {print (b - a) / k * 1000}')")
    else times+=("$(awk -v a="$t0" -v b="$t1" -v k=$((s1 - s0)) 'BEGIN {print (b - a) / k * 1000}')"); fi
    reduce+=("$(awk -v a="$a0" -v b="$a1" -v k=$((s1 - s0)) 'BEGIN {print (b - a) / k * 1000}')")
  done
  echo "$(printf '%s\n' "${times[@]}" | median) $(printf '%s\n' "${reduce[@]}" | median)"
}

echo "bench-distributed: ${run[*]}; steps $s0 -> $s1, median of $rounds; clock $clock; $threads thread(s) per rank"
echo "machine: $(lscpu | sed -nE 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
unit="ms/step"; [[ $clock == cpu ]] && unit="CPU ms/step (all ranks)"
printf '%-26s %24s %8s %10s %26s\n' configuration "$unit" speedup efficiency "all-reduce ms/step (share)"
read -r base _ <<< "$(per_step 1)"
printf '%-26s %24.1f %8s %10s %26s\n' "1 rank" "$base" - - -
for overlap in false true; do
  read -r t a <<< "$(per_step "$ranks" --overlap-allreduce="$overlap")"
  label="$ranks ranks, overlap $([[ $overlap == true ]] && echo on || echo off)"
  if [[ $clock == cpu ]]; then
    # CPU time summed over the ranks: ideal is the 1-rank figure (the same work, split).
    awk -v l="$label" -v t="$t" -v b="$base" -v a="$a" -v n="$ranks" 'BEGIN {
      printf "%-26s %24.1f %8.2f %9.0f%% %17.1f (%.0f%%)\n", l, t, n * b / t, 100 * b / t, a, 100 * a * n / t }'
  else
    awk -v l="$label" -v t="$t" -v b="$base" -v a="$a" -v n="$ranks" 'BEGIN {
      printf "%-26s %24.1f %8.2f %9.0f%% %17.1f (%.0f%%)\n", l, t, b / t, 100 * b / (n * t), a, 100 * a / t }'
  fi
done
