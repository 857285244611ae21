#!/usr/bin/env bash
# Times every CPU benchmark workload in kelvin and in its peer (Debian's PyTorch, 2 threads;
# numpy for the rank workload) in the same run, alternating the two, and prints one table row
# per workload: the median of the per-round medians and the kelvin/peer ratio.
#   bash scripts/bench-cpu.sh [rounds] [workload ...]
# KELVIN_CPU_ISA=avx512|avx2|generic forces kelvin's kernel path (kernels/cpu/cpu_isa.h); the
# peer is then held to the same instruction set (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA), so a
# ratio measured on an AVX-512 machine stands for an AVX2-only one. PEER_ISA=native leaves the
# peer unrestricted. The path kelvin ran is printed with each row. KELVIN_CPU_ISA=avx2 also sets
# OPENBLAS_CORETYPE=Haswell for both (OpenBLAS picks its own kernels from the CPU otherwise: an
# AVX2-only machine's OpenBLAS runs its Haswell kernels).
# CLOCK=cpu: one thread each, and a step's cost is process CPU time, (cpu(12 steps) - cpu(4
# steps)) / 8, start-up and warm-up cancelling out: on a machine shared with other work this
# measures the work itself, where the wall clock measures the queue for the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
workloads=("$@")
((${#workloads[@]})) || workloads=(mlp6x1024_b128 vgg11bn_b32_32px resnet18_b32_32px vit6x192_b32_32px rank10000x100)
py=/usr/bin/python3
peer_env=()
[[ ${KELVIN_CPU_ISA:-} == avx2 ]] && export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
case "${PEER_ISA:-${KELVIN_CPU_ISA:-native}}" in
  avx512) peer_env=(ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE DNNL_MAX_CPU_ISA=AVX512_CORE) ;;
  avx2) peer_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell) ;;
  generic) peer_env=(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 DNNL_MAX_CPU_ISA=SSE41) ;;
esac
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
threads=2
if [[ ${CLOCK:-wall} == cpu ]]; then
  threads=1
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fi
# CPU seconds (user + system) of a command.
cpu_seconds() { local TIMEFORMAT='%3U %3S'; { time "$@" > /dev/null; } 2>&1 | awk '{print $1 + $2}'; }
# Per-step CPU ms of `kelvin bench` or the peer: the difference of a 12- and a 4-step run.
per_step_cpu_ms() {
  local a b
  a=$(cpu_seconds "$@" --steps 4 --warmup 2); b=$(cpu_seconds "$@" --steps 12 --warmup 2)
  awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1f", (b - a) / 8 * 1000}'
}
printf '%-20s %12s %12s %8s  %s\n' workload "kelvin ms" "peer ms" ratio "kelvin path (clock ${CLOCK:-wall}, $threads threads)"
for w in "${workloads[@]}"; do
  k=(); p=(); isa=""
  for ((r = 0; r < rounds; r++)); do
    if [[ ${CLOCK:-wall} == cpu && $w != rank10000x100 ]]; then
      k+=("$(per_step_cpu_ms ${KELVIN:-build/kelvin} bench --workload "$w" --device cpu)")
      isa=$(${KELVIN:-build/kelvin} bench --workload "$w" --device cpu --steps 1 --warmup 0 | sed -nE 's/.*cpu_isa=([a-z0-9]+).*/\1/p')
      p+=("$(per_step_cpu_ms env "${peer_env[@]}" $py bench/peers/pytorch_workloads.py --workload "$w" --threads 1)")
      continue
    fi
    line=$(${KELVIN:-build/kelvin} bench --workload "$w" --device cpu --steps 10 --warmup 2)
    k+=("$(echo "$line" | awk '{print $2}')")
    isa=$(echo "$line" | sed -nE 's/.*cpu_isa=([a-z0-9]+).*/\1/p')
    if [[ $w == rank10000x100 ]]; then
      p+=("$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $py bench/peers/numpy_rank.py | awk '{print $2}')")
    else
      p+=("$(env "${peer_env[@]}" $py bench/peers/pytorch_workloads.py --workload "$w" --threads 2 --steps 10 --warmup 2 | awk '{print $2}')")
    fi
  done
  km=$(printf '%s\n' "${k[@]}" | median); pm=$(printf '%s\n' "${p[@]}" | median)
  awk -v w="$w" -v k="$km" -v p="$pm" -v i="${isa:-unknown}" 'BEGIN {printf "%-20s %12.2f %12.2f %8.2f  %s\n", w, k, p, k / p, i}'
done
