#!/usr/bin/env bash
# Data-parallel training across real MPI processes (mpirun -np 2, OpenMPI), on the CPU:
#   1. a 2-rank MLP run equals the 1-rank run with the same global batch and seed after 100 steps;
#   2. a 2-rank VGG-11-BN run with --sync-batchnorm equals the 1-rank run (and without it, does
#      not: the comparison can tell);
#   3. killing one rank mid-run ends every rank, non-zero, within 30 s; --resume with 2 ranks
#      then finishes the run, and --resume with 1 rank is refused;
#   3b. a signal (SIGUSR2) to one rank stops every rank at one step with a checkpoint, and the
#      resumed run ends as an uninterrupted one; rank 0's record names rank 1's signal and the
#      resume command the launcher (mpirun -np 2 ...);
#   4. a global batch that does not divide by the ranks is refused up front; 4b. --profile prints
#      rank 0's table alone and every rank writes its --profile-json file;
#   each 2-rank run of 1, 2 and 5 is repeated with --overlap-allreduce=false and must give the
#   same bits (the buckets' all-reduce after backward instead of during it);
#   5. with EMULATOR_BUILD_DIR (a KELVIN_CUDA_EMULATOR build): the NCCL code path, 2 ranks on
#      --device cuda with NCCL's calls served by MPI on the host emulator (no GPU involved), equals
#      1 rank on the emulator;
# (A build without MPI is checked by scripts/check-no-mpi.sh, on scripts/fuzz.sh's build.)
# Prints "distributed: N passed, N failed" last; exits non-zero on any failure.
# Usage: scripts/test-distributed.sh [BUILD_DIR [EMULATOR_BUILD_DIR]]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
emulator_build=${2:-}
kelvin=$build/kelvin
passed=0; failed=0
pass() { echo "  ok: $1"; passed=$((passed + 1)); }
fail() { echo "  FAILED: $1"; failed=$((failed + 1)); }
finish() { echo "distributed: $passed passed, $failed failed"; exit $((failed > 0)); }

if ! command -v mpirun > /dev/null; then
  fail "mpirun not found: install openmpi-bin (scripts/install-deps.sh)"; finish
fi
if [[ ! -x $kelvin ]] || ! ldd "$kelvin" | grep libmpi > /dev/null; then
  fail "$kelvin is missing or was built without MPI"; finish
fi
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1)
export OMP_NUM_THREADS=1  # one core per rank, as the two ranks share the CI's two cores
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The value at JSON path $2 (python expression on m) of run $1's metrics.json.
metric() { python3 -c "import json,sys; m=json.load(open('$1/metrics.json')); print($2)"; }
# |a - b| <= tol * |b|
close() { python3 -c "import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= t*abs(b) else 1)" "$1" "$2" "$3"; }

# Runs $2 and $3 (overlap on, off) end with the same losses to the last bit (json's shortest
# round-trip digits of the same double): the track's losses and the final train and test loss.
same_bits() {
  local what="m['final']['train_loss'], m['final']['test_loss'], [t['loss'] for t in m['track']]"
  local a b; a=$(metric "$2" "$what" 2> /dev/null); b=$(metric "$3" "$what" 2> /dev/null)
  if [[ -n $a && $a == "$b" ]]; then pass "$1: overlap on and off give the same bits ($a)"
  else fail "$1: overlap on '$a' vs off '$b'"; tail -3 "$3.log"; fi
  # ... and the overlap happened: buckets started during backward in $2, none in $3 ("N of M").
  local on off; on=$(metric "$2" "m['final']['allreduce_buckets_in_backward'], m['final']['allreduce_buckets']" 2> /dev/null)
  off=$(metric "$3" "m['final']['allreduce_buckets_in_backward']" 2> /dev/null)
  if [[ $on =~ ^([0-9]+)\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[2] > 1)) && [[ $off == 0 ]]; then
    pass "$1: with overlap ${BASH_REMATCH[1]} of ${BASH_REMATCH[2]} buckets started during backward, without 0"
  else fail "$1: buckets started during backward (started, buckets) on: '$on', off: '$off'"; fi
}

echo "distributed: MPI runs ($(mpirun --version | head -1))"

# ---- 1. MLP, 100 steps: 1 rank vs 2 ranks ------------------------------------------------------
# Tolerance. Both runs see the same samples in the same order and the same initial weights; only
# the order of summation differs: a rank's gradient sums its 32 samples, and the all-reduce adds
# the two halves, where one process sums 64. A float32 sum of B terms in another order differs by
# at most ~B*u relative (u = 2^-24), so each step's update by at most 64*u; with no amplification
# by the dynamics over 100 steps, the loss differs by at most 100 * 64 * u = 3.8e-4 relative.
# Measured: ~1e-7 (the bound is loose; a wrong shard or a missing average gives > 1e-2).
mlp=(--model mlp --width 64 --depth 2 --train-subset 1280 --batch-size 64 --epochs 5 --lr 0.05
     --track-every 100 --track-samples 256 --eval-batch-size 1000 --seed 3)
tol_mlp=$(python3 -c "print(100 * 64 * 2**-24)")
"$kelvin" train "${mlp[@]}" --out "$tmp/mlp1" > "$tmp/mlp1.log" 2>&1
# Small buckets (1 KiB): the last layers (650 floats) get a bucket of their own, started in backward.
buckets=(--allreduce-bucket-bytes 1024)
"${mpi[@]}" "$kelvin" train "${mlp[@]}" "${buckets[@]}" --out "$tmp/mlp2" > "$tmp/mlp2.log" 2>&1
if [[ -f $tmp/mlp1/metrics.json && -f $tmp/mlp2/metrics.json ]]; then
  for what in "m['track'][-1]['loss']" "m['final']['train_loss']" "m['final']['test_loss']"; do
    a=$(metric "$tmp/mlp2" "$what"); b=$(metric "$tmp/mlp1" "$what")
    step=$(metric "$tmp/mlp2" "m['track'][-1]['step']")
    if close "$a" "$b" "$tol_mlp"; then pass "MLP $what (step $step): 2 ranks $a, 1 rank $b, tolerance $tol_mlp"
    else fail "MLP $what (step $step): 2 ranks $a vs 1 rank $b, beyond $tol_mlp relative"; fi
  done
  # The same run with every bucket's all-reduce after backward instead of during it: the same
  # bits (the same sums in the same buckets, started later; gradient_reducer.h).
  "${mpi[@]}" "$kelvin" train "${mlp[@]}" "${buckets[@]}" --overlap-allreduce=false --out "$tmp/mlp2-after" > "$tmp/mlp2-after.log" 2>&1
  same_bits "MLP, 2 ranks" "$tmp/mlp2" "$tmp/mlp2-after"
  ws=$(python3 -c "import json; print(json.load(open('$tmp/mlp2/config.json')).get('world_size'))")
  [[ $ws == 2 ]] && pass "config.json records world_size 2" || fail "config.json world_size is $ws, expected 2"
else
  fail "MLP runs did not finish:"; tail -5 "$tmp/mlp1.log" "$tmp/mlp2.log"
fi

# ---- 2. VGG-11-BN, --sync-batchnorm: 1 rank vs 2 ranks -------------------------------------
# Synchronised statistics make each step the single process's up to summation order (the BN sums
# run in double; tests/test_distributed.cpp checks one layer to 2e-6). This tiny VGG on random
# CIFAR-shaped data amplifies rounding differences, so the comparison is made after 30 steps at
# a small learning rate, where the measured difference is ~1e-7 (0 on most runs), against a
# tolerance of 30 steps * 32 terms * u = 5.7e-5; per-replica statistics (no --sync-batchnorm)
# differ by ~4e-3 there, so the tolerance separates the two.
python3 scripts/make-fake-cifar10.py "$tmp/cifar" 64 > /dev/null
vgg=(--model vgg11bn --base-width 4 --dataset cifar10 --data-dir "$tmp/cifar" --train-subset 320
     --batch-size 32 --epochs 3 --lr 0.005 --track-every 30 --track-samples 64 --eval-batch-size 64
     --seed 5 --crop-padding 4 --flip)
tol_vgg=$(python3 -c "print(30 * 32 * 2**-24)")
"$kelvin" train "${vgg[@]}" --out "$tmp/vgg1" > "$tmp/vgg1.log" 2>&1
"${mpi[@]}" "$kelvin" train "${vgg[@]}" "${buckets[@]}" --sync-batchnorm --out "$tmp/vgg2" > "$tmp/vgg2.log" 2>&1
"${mpi[@]}" "$kelvin" train "${vgg[@]}" --out "$tmp/vgg2-own" > "$tmp/vgg2-own.log" 2>&1
if [[ -f $tmp/vgg1/metrics.json && -f $tmp/vgg2/metrics.json && -f $tmp/vgg2-own/metrics.json ]]; then
  what="m['track'][-1]['loss']"
  a=$(metric "$tmp/vgg2" "$what"); b=$(metric "$tmp/vgg1" "$what"); c=$(metric "$tmp/vgg2-own" "$what")
  if close "$a" "$b" "$tol_vgg"; then pass "VGG-11-BN --sync-batchnorm, step 30 loss: 2 ranks $a, 1 rank $b, tolerance $tol_vgg"
  else fail "VGG-11-BN --sync-batchnorm, step 30 loss: 2 ranks $a vs 1 rank $b, beyond $tol_vgg relative"; fi
  # Sync-BN's reductions run inside backward, between the buckets' non-blocking sums.
  "${mpi[@]}" "$kelvin" train "${vgg[@]}" "${buckets[@]}" --sync-batchnorm --overlap-allreduce=false --out "$tmp/vgg2-after" > "$tmp/vgg2-after.log" 2>&1
  same_bits "VGG-11-BN --sync-batchnorm, 2 ranks" "$tmp/vgg2" "$tmp/vgg2-after"
  if ! close "$c" "$b" "$tol_vgg"; then pass "VGG-11-BN per-replica statistics differ ($c vs $b): the comparison can fail"
  else fail "VGG-11-BN without --sync-batchnorm matches 1 rank ($c vs $b): the comparison cannot tell"; fi
else
  fail "VGG runs did not finish:"; tail -5 "$tmp"/vgg*.log
fi

# ---- 3. a rank killed mid-run: every rank ends, then --resume ------------------------------
long=(--model mlp --width 256 --depth 2 --train-subset 6400 --batch-size 64 --epochs 6 --lr 0.05
      --eval-batch-size 1000 --seed 4)
"${mpi[@]}" "$kelvin" train "${long[@]}" --out "$tmp/kill" > "$tmp/kill.log" 2>&1 &
launcher=$!
# Wait for the first epoch's checkpoint, then SIGKILL rank 1 (found among mpirun's children by
# its OMPI_COMM_WORLD_RANK).
for _ in $(seq 1 600); do
  [[ -f $tmp/kill/model.safetensors ]] && break
  kill -0 "$launcher" 2> /dev/null || break
  sleep 0.1
done
victim=""
for pid in $(pgrep -P "$launcher"); do
  tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$pid
done
if [[ -z $victim ]]; then
  fail "could not find rank 1 of the run to kill (did it finish before its first checkpoint?)"
  kill "$launcher" 2> /dev/null; wait "$launcher" 2> /dev/null
else
  others=$(pgrep -P "$launcher" | grep -vx "$victim")
  start=$(date +%s.%N)
  kill -KILL "$victim"
  wait "$launcher"; rc=$?
  # Every other rank must be gone too, within 30 s of the kill (checked every 0.1 s).
  alive=$others
  while [[ -n $alive ]] && python3 -c "import sys,time; sys.exit(0 if time.time() - $start < 30 else 1)"; do
    still=""
    for pid in $alive; do
      [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null) != Z ]] && still="$still $pid"
    done
    alive=$still
    [[ -n $alive ]] && sleep 0.1
  done
  elapsed=$(python3 -c "import time; print(round(time.time() - $start, 1))")
  if [[ $rc -ne 0 && -z $alive ]] && python3 -c "import sys; sys.exit(0 if $elapsed <= 30 else 1)"; then
    pass "rank 1 killed: mpirun exited $rc, the last rank gone ${elapsed}s after the kill"
  else
    fail "rank 1 killed: mpirun exit $rc after ${elapsed}s, ranks still alive:${alive:- none}"
    for pid in $alive; do kill -KILL "$pid"; done
  fi
  # An exited rank may stay a zombie until its new parent reaps it, and the run lock counts a
  # zombie as alive: wait (up to 10 s) for the process entries to go before resuming.
  for pid in $others; do
    for _ in $(seq 1 100); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  done
  if grep -qiE "rank 1|process rank 1|exited on signal 9" "$tmp/kill.log"; then pass "the launcher's message names the killed rank"
  else fail "no message naming rank 1:"; tail -5 "$tmp/kill.log"; fi
  "$kelvin" train --resume "$tmp/kill" > "$tmp/resume1.log" 2>&1
  if grep -q "started with 2 rank(s)" "$tmp/resume1.log"; then pass "--resume with 1 rank is refused: $(grep -o 'the run was started.*' "$tmp/resume1.log" | head -c 90)..."
  else fail "--resume with 1 rank was not refused:"; tail -3 "$tmp/resume1.log"; fi
  "${mpi[@]}" "$kelvin" train --resume "$tmp/kill" > "$tmp/resume2.log" 2>&1
  status=$(metric "$tmp/kill" "m['status']" 2> /dev/null)
  epochs=$(metric "$tmp/kill" "len(m['epochs'])" 2> /dev/null)
  if [[ $status == complete && $epochs == 6 ]]; then pass "--resume with 2 ranks finishes the run (6 epochs, complete)"
  else fail "--resume with 2 ranks: status $status, $epochs epochs"; tail -5 "$tmp/resume2.log"; fi
fi

# ---- 3b. a signal to one rank stops every rank at the same step -------------------------------
# (engine/interruption.h: SIGUSR2, Slurm's warning before a time limit.) The ranks agree on it at
# each step boundary; rank 0 writes the mid-epoch checkpoint; --resume on 2 ranks then ends
# where the uninterrupted run of part 3 (same settings) ends: the same test loss.
"${mpi[@]}" "$kelvin" train "${long[@]}" --out "$tmp/signal" > "$tmp/signal.log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  [[ -f $tmp/signal/model.safetensors ]] && break
  kill -0 "$launcher" 2> /dev/null || break
  sleep 0.1
done
victim=""
for pid in $(pgrep -P "$launcher"); do
  tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$pid
done
if [[ -n $victim ]]; then
  kill -USR2 "$victim"
  wait "$launcher"; rc=$?
  status=$(metric "$tmp/signal" "m['status']" 2> /dev/null)
  if [[ $rc -ne 0 && $status == interrupted ]]; then
    pass "SIGUSR2 to rank 1: every rank stopped (exit $rc), checkpoint at step $(metric "$tmp/signal" "m['interrupted']['step']")"
  else fail "SIGUSR2 to rank 1: exit $rc, status $status"; tail -5 "$tmp/signal.log"; fi
  # Rank 0 got no signal itself: the record names rank 1's, and the resume command the launcher.
  record=$(metric "$tmp/signal" "m['interrupted']['signal'] + ' | ' + m['interrupted']['resume']" 2> /dev/null)
  if [[ $record == "SIGUSR2 | mpirun -np 2 kelvin train --resume $tmp/signal" ]] &&
     grep -q "interrupted by SIGUSR2 (sent to rank 1)" "$tmp/signal.log"; then
    pass "the interrupted record names rank 1's signal and the launcher: $record"
  else fail "the interrupted record: '$record'"; grep interrupted "$tmp/signal.log"; fi
  "${mpi[@]}" "$kelvin" train --resume "$tmp/signal" > "$tmp/signal2.log" 2>&1
  a=$(metric "$tmp/signal" "m['final']['test_loss']" 2> /dev/null); b=$(metric "$tmp/kill" "m['final']['test_loss']" 2> /dev/null)
  if [[ -n $a && $a == "$b" ]]; then pass "resumed after the signal: test loss $a, as the run of part 3"
  else fail "resumed after the signal: test loss '$a' vs '$b'"; tail -3 "$tmp/signal2.log"; fi
else
  fail "could not find rank 1 of the run to signal"; kill "$launcher" 2> /dev/null; wait "$launcher" 2> /dev/null
fi

# ---- 4. refused up front ----------------------------------------------------------------------
"${mpi[@]}" "$kelvin" train --model mlp --train-subset 1280 --batch-size 63 --out "$tmp/odd" > "$tmp/odd.log" 2>&1
rc=$?
if [[ $rc -ne 0 && ! -e $tmp/odd ]] && grep -q "must divide by the number of ranks (2 ranks)" "$tmp/odd.log"; then
  pass "--batch-size 63 on 2 ranks is refused before the run directory exists"
else
  fail "--batch-size 63 on 2 ranks: exit $rc"; tail -3 "$tmp/odd.log"
fi

# ---- 4b. --profile on 2 ranks: rank 0's table on the console, every rank's in its JSON file ---
"${mpi[@]}" "$kelvin" train --model mlp --width 32 --depth 2 --train-subset 640 --batch-size 64 \
  --epochs 1 --profile --profile-json "$tmp/profile.json" --out "$tmp/profile" > "$tmp/profile.log" 2>&1
tables=$(grep -c "steps profiled" "$tmp/profile.log")
if [[ $tables == 1 && -s $tmp/profile.json && -s $tmp/profile.json.rank1 ]]; then
  pass "--profile on 2 ranks: one table on the console, profile.json and profile.json.rank1 written"
else fail "--profile on 2 ranks: $tables table(s) printed, JSON files: $(ls "$tmp" | grep profile.json | tr '\n' ' ')"; fi

# ---- 5. the NCCL path on the CUDA emulator ----------------------------------------------------
if [[ -n $emulator_build ]]; then
  emu=$emulator_build/kelvin
  # 20 steps: the emulator runs every kernel thread by thread on the host. Tolerance as in 1.
  small=(--model mlp --width 32 --depth 2 --train-subset 640 --batch-size 64 --epochs 2 --lr 0.05
         --track-every 20 --track-samples 64 --eval-batch-size 640 --seed 3 --device cuda)
  tol_emu=$(python3 -c "print(20 * 64 * 2**-24)")
  "$emu" train "${small[@]}" --out "$tmp/emu1" > "$tmp/emu1.log" 2>&1
  "${mpi[@]}" "$emu" train "${small[@]}" "${buckets[@]}" --out "$tmp/emu2" > "$tmp/emu2.log" 2>&1
  if [[ -f $tmp/emu1/metrics.json && -f $tmp/emu2/metrics.json ]] &&
     [[ $(metric "$tmp/emu2" "m['status']") == complete ]]; then
    a=$(metric "$tmp/emu2" "m['track'][-1]['loss']"); b=$(metric "$tmp/emu1" "m['track'][-1]['loss']")
    if close "$a" "$b" "$tol_emu"; then pass "emulated CUDA + NCCL-over-MPI, 2 ranks, step 20 loss $a, 1 rank $b, tolerance $tol_emu"
    else fail "emulated CUDA + NCCL-over-MPI, step 20 loss: 2 ranks $a vs 1 rank $b, beyond $tol_emu"; fi
    "${mpi[@]}" "$emu" train "${small[@]}" "${buckets[@]}" --overlap-allreduce=false --out "$tmp/emu2-after" > "$tmp/emu2-after.log" 2>&1
    same_bits "emulated CUDA + NCCL-over-MPI, 2 ranks" "$tmp/emu2" "$tmp/emu2-after"
  else
    fail "emulated CUDA runs did not finish:"; tail -5 "$tmp/emu1.log" "$tmp/emu2.log"
  fi
else
  echo "  (NCCL path on the CUDA emulator: not run, no emulator build given)"
fi

finish
