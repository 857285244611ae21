#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (the device tool). Before the call, in the
# checkout the tool sends: bash scripts/pack-device-deps.sh. Then:
#   run(command="bash scripts/device-check.sh", carry=[".devdeps"], timeout_s=480)
# The session's device time is 15 minutes, machine start-up (a minute or two) included, so the
# script keeps to a budget of its own, KELVIN_DEVICE_BUDGET seconds (default 400): each step has
# a time limit and runs only when that limit fits in what is left, most important first; a
# skipped step says so. That leaves time for one shorter rerun (KELVIN_DEVICE_BUDGET=200, say).
# Steps: find the GPU, nvcc, cuDNN and NCCL (the toolkit's, else PyTorch's wheels); build for
# sm_90; the GPU tests (CPU-vs-CUDA parity, cuDNN, NCCL on one rank, trace, golden);
# the roofline of a ResNet-18 step with kelvin's and cuDNN's convolutions (H200 datasheet limits)
# and the two backends' step times; compute-sanitizer memcheck on the kernel tests; the
# benchmark workloads beside the PyTorch there; a training run; diagnostics of a ResNet-18 on
# 10,000 CIFAR-sized samples (random pixels in the CIFAR-10 layout: the real files are not
# there); the CUDA demo grid with what time is left. Not here: the CPU-only tests and the static
# resource check (scripts/cuda-resources.sh), which CI runs with the same nvcc 13.0 and no GPU.
# What comes back ($OUT, at most 8 files): summary.txt (also printed last), logs.tar.gz (every
# log), roofline_kelvin.json, roofline_cudnn.json.
# Rehearsal without a GPU (checks the script's plumbing; every GPU step reports its failure):
#   KELVIN_DEVICE=cpu KELVIN_BUILD_DIR=build bash scripts/device-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
device=${KELVIN_DEVICE:-cuda}
py=${KELVIN_PYTHON:-python3}  # the device's python3 holds PyTorch
build=${KELVIN_BUILD_DIR:-build-device}
budget=${KELVIN_DEVICE_BUDGET:-400}
OUT=${OUT:-/tmp/kelvin-device-out}
logs=/tmp/kelvin-device-logs
mkdir -p "$OUT" && rm -rf "$logs" && mkdir -p "$logs"
t0=$(date +%s)
kelvin="./$build/kelvin"

note() { echo "$1" >> "$OUT/summary.txt"; echo "== $1"; }
left() { echo $((budget - ($(date +%s) - t0))); }
pack() { tar -C "$logs" -czf "$OUT/logs.tar.gz" . 2> /dev/null; }
trap pack EXIT
# fits SECONDS NAME: whether a step limited to SECONDS fits in the budget; notes a skip if not.
fits() {
  if (($(left) < $1)); then note "$2: skipped, $(left) s of the budget left, it needs $1"; return 1; fi
}
# ran NAME STATUS SECONDS_START: the summary's line for a step that finished.
ran() {
  local what=ok
  (($2 == 124)) && what="TIMED OUT" || { (($2 != 0)) && what="FAILED (exit $2)"; }
  note "$1: $what ($(($(date +%s) - $3)) s)"
}
doctest_counts() { grep -E '^\[doctest\] test cases' "$1" | tail -1 | sed 's/\[doctest\] //'; }
: > "$OUT/summary.txt"

# ---- what the machine has ---------------------------------------------------------------------
if [[ $device == cuda ]]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader > "$logs/gpu.txt" 2>&1
  note "gpu: $(head -1 "$logs/gpu.txt")"
  command -v nvcc > /dev/null || export PATH="$PATH:/usr/local/cuda/bin"
  note "nvcc: $(nvcc --version 2> /dev/null | grep -o 'release [0-9.]*' || echo 'NOT FOUND')"
fi
if [[ ! -f .devdeps/deps.tar.gz ]]; then
  note "FATAL: .devdeps/deps.tar.gz missing: run scripts/pack-device-deps.sh here and carry .devdeps"
  exit 1
fi
deps=/tmp/kelvin-devdeps
mkdir -p "$deps" && tar -C "$deps" -xzf .devdeps/deps.tar.gz
export LD_LIBRARY_PATH="$deps/lib:${LD_LIBRARY_PATH:-}"
export CPATH="$deps/include:${CPATH:-}"
# cuDNN and NCCL: the toolkit's if it has them, else the ones PyTorch's wheels bring
# (nvidia-cudnn-cu13, nvidia-nccl-cu13), whose libraries carry only versioned names.
cmake_libs=()
toolkit_include=$(dirname "$(dirname "$(command -v nvcc 2> /dev/null || echo /usr/local/cuda/bin/nvcc)")")/include
for lib in cudnn nccl; do
  if [[ -e $toolkit_include/$lib.h || -e /usr/include/$lib.h ]]; then
    note "$lib: the toolkit's"; continue
  fi
  wheel=$($py -c "import nvidia.$lib as m; print(list(m.__path__)[0])" 2> /dev/null)
  so=$(ls "$wheel"/lib/lib$lib.so* 2> /dev/null | head -1)
  if [[ -n $wheel && -e $wheel/include/$lib.h && -n $so ]]; then
    upper=${lib^^}
    cmake_libs+=("-D${upper}_INCLUDE_DIR=$wheel/include" "-D${upper}_LIBRARY=$so")
    export LD_LIBRARY_PATH="$wheel/lib:$LD_LIBRARY_PATH"
    note "$lib: PyTorch's wheel, $so"
  else
    note "$lib: NOT FOUND (the build goes on without it)"
  fi
done

# ---- build ------------------------------------------------------------------------------------
start=$(date +%s)
if [[ -n ${KELVIN_BUILD_DIR:-} ]]; then
  note "build: reusing $build"
elif timeout 90 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
     -DCMAKE_PREFIX_PATH="$deps" "${cmake_libs[@]}" > "$logs/configure.log" 2>&1 &&
   timeout 240 cmake --build "$build" -j"$(nproc)" --target kelvin kelvin_tests > "$logs/build.log" 2>&1; then
  note "build sm_90: ok ($(($(date +%s) - start)) s; $(grep -o 'kelvin: [A-Za-z ]*[01]' "$logs/configure.log" | tr '\n' ';'))"
else
  tail -40 "$logs/configure.log" "$logs/build.log" 2> /dev/null | grep -v '^\[' | tail -30
  note "build sm_90: FAILED after $(($(date +%s) - start)) s (logs.tar.gz: configure.log, build.log)"
  exit 1
fi
# The end-to-end tests read Fashion-MNIST where Debian puts it.
if [[ ! -e /usr/share/datasets/fashion-mnist && -d .devdeps/fashion-mnist ]]; then
  mkdir -p /usr/share/datasets && ln -s "$PWD/.devdeps/fashion-mnist" /usr/share/datasets/fashion-mnist
fi

# ---- the GPU tests: every CUDA kernel against the CPU, cuDNN, NCCL (1 rank), trace, golden ----
gpu_tests='*cuda*,*gpu*,*parity*,*cudnn*'
if fits 150 "GPU tests"; then
  start=$(date +%s)
  (cd "$build" && timeout 150 ./kelvin_tests -tc="$gpu_tests" -tce='*emulator*' > "$logs/gpu_tests.log" 2>&1)
  status=$?
  ran "GPU tests [$(doctest_counts "$logs/gpu_tests.log")]" "$status" "$start"
  grep -B2 -A8 'ERROR\|FATAL' "$logs/gpu_tests.log" | head -40
  grep -q 'cuda NCCL' "$logs/gpu_tests.log" && note "  the NCCL test (1 rank) failed: gpu_tests.log"
fi

# The NCCL test (one rank: ncclAllReduce on NCCL's own stream, after backward and overlapped with it,
# the same bits both ways) is among the GPU tests above.
# ---- roofline of a ResNet-18 step, kelvin's conv and cuDNN's; the two backends' step times ----
r18=resnet18_b128_32px r18_args=(--steps 5 --warmup 2)
[[ $device == cpu ]] && r18=resnet18_b32_32px r18_args=(--steps 2 --warmup 1)
for backend in kelvin cudnn; do
  fits 60 "roofline $r18 ($backend conv)" || continue
  start=$(date +%s)
  timeout 60 $kelvin bench --workload $r18 --device "$device" "${r18_args[@]}" --conv-backend $backend \
    --profile --profile-json "$OUT/roofline_$backend.json" > "$logs/roofline_$backend.txt" 2>&1
  status=$?
  ran "roofline $r18 $device ($backend conv) [$(grep -m1 'steps profiled' "$logs/roofline_$backend.txt" | cut -c1-70)]" "$status" "$start"
  sed -n 2,12p "$logs/roofline_$backend.txt" | cut -c1-150
done
for w in resnet18_b128_32px vgg11bn_b32_32px; do
  fits 45 "conv backends $w" || continue
  note "conv backends $w: $(timeout 45 $kelvin bench --workload $w --device "$device" --steps 20 \
    --warmup 5 --conv-backend both 2>&1 | tail -1)"
done

# ---- compute-sanitizer memcheck on the kernel-level tests (Firecracker: works; gVisor: not) ----
if [[ $device == cuda ]] && command -v compute-sanitizer > /dev/null && fits 120 "compute-sanitizer"; then
  start=$(date +%s)
  (cd "$build" && timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 \
     ./kelvin_tests -tc='cuda:*,*CUDA kernel*,*parity*' -tce='*emulator*,*golden*,*train*,*diagnose*,*bench*' \
     > "$logs/sanitizer.log" 2>&1)
  status=$?
  ran "compute-sanitizer memcheck (exit 9 = findings) [$(doctest_counts "$logs/sanitizer.log")]" "$status" "$start"
  grep -m5 'Invalid\|ERROR SUMMARY' "$logs/sanitizer.log"
fi

# ---- benchmarks: kelvin and PyTorch on the same GPU, same run ----------------------------------
for w in $($kelvin bench --list 2> /dev/null); do
  [[ $device == cpu && $w != mlp6x1024_b128 ]] && continue  # the rehearsal times one workload
  fits 40 "bench $w" || continue
  k=$(timeout 20 $kelvin bench --workload "$w" --device "$device" --steps 20 --warmup 5 2>&1 | tail -1)
  if [[ $w == rank10000x100 ]]; then
    p=$(timeout 20 $py -c "import torch, time; a = torch.randn(10000, 100, device='$device', dtype=torch.float64); [torch.linalg.svdvals(a) for _ in range(3)]; torch.cuda.synchronize(); t = time.perf_counter(); [torch.linalg.svdvals(a) for _ in range(20)]; torch.cuda.synchronize(); print('rank10000x100', (time.perf_counter() - t) / 20 * 1e3, 'ms (torch svdvals float64)')" 2>&1 | tail -1)
  else
    p=$(timeout 20 $py bench/peers/pytorch_workloads.py --workload "$w" --device "$device" --steps 20 --warmup 5 2>&1 | tail -1)
  fi
  note "bench $w: kelvin [$k] pytorch [$p]"
done

# ---- a training run, then diagnostics of a ResNet-18 on 10,000 CIFAR-sized samples -------------
if fits 45 "train mlp"; then
  start=$(date +%s)
  rm -rf /tmp/gpu_run
  timeout 45 $kelvin train --device "$device" --epochs 2 --out /tmp/gpu_run > "$logs/train.log" 2>&1
  status=$?
  ran "train mlp fashion-mnist $device [$(tail -1 "$logs/train.log" | cut -c1-80)]" "$status" "$start"
fi
r18_steps=20 diag_probe=()
[[ $device == cpu ]] && r18_steps=2 diag_probe=(--samples 500 --probe-train-samples 500 --probe-epochs 1)
if fits 150 "resnet18 train + diagnose"; then
  cifar=/tmp/kelvin-fake-cifar10
  $py scripts/make-fake-cifar10.py "$cifar" 10000 > "$logs/fake_cifar.log" 2>&1
  rm -rf /tmp/gpu_r18
  start=$(date +%s)
  timeout 50 $kelvin train --model resnet18 --dataset cifar10 --data-dir "$cifar" --device "$device" \
    --epochs 1 --max-steps $r18_steps --batch-size 128 --out /tmp/gpu_r18 > "$logs/train_r18.log" 2>&1
  ran "train resnet18 $r18_steps steps, fake cifar10, $device" $? "$start"
  start=$(date +%s)
  timeout $(($(left) < 100 ? $(left) : 100)) $kelvin diagnose /tmp/gpu_r18 --device "$device" \
    --ood cifar10:classes=5-9 --ood-data-dir "$cifar" "${diag_probe[@]}" > "$logs/diagnose_r18.log" 2>&1
  ran "diagnose resnet18 [${diag_probe[*]:-10k samples, defaults}] $device" $? "$start"
  cp /tmp/gpu_r18/diagnostics.json "$logs/diagnostics_r18.json" 2> /dev/null
fi

# ---- the CUDA demo grid, with what is left: a sweep resumes where it stopped --------------------
if [[ $device == cuda ]] && fits 40 "demo"; then
  timeout $(($(left) - 10)) $kelvin demo --device cuda --out /tmp/gpu_demo > "$logs/demo.log" 2>&1
  note "demo --device cuda: exit $? (124 = the budget's end), $(grep -c 'complete' "$logs/demo.log") completion lines"
fi

note "total: $(($(date +%s) - t0)) s of a $budget s budget"
echo; echo "==== summary ===="; cat "$OUT/summary.txt"
