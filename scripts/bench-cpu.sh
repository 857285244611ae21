#!/usr/bin/env bash
# Times every CPU benchmark workload in kelvin and in its peer (Debian's PyTorch, 2 threads;
# numpy for the rank workload) in the same run, alternating the two, and prints one table row
# per workload: the median of the per-round medians and the kelvin/peer ratio.
#   bash scripts/bench-cpu.sh [rounds] [workload ...]
# KELVIN_CPU_ISA=avx512|avx2|generic forces kelvin's kernel path (kernels/cpu/cpu_isa.h); the
# peer is then held to the same instruction set (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA), so a
# ratio measured on an AVX-512 machine stands for an AVX2-only one. PEER_ISA=native leaves the
# peer unrestricted. The path kelvin ran is printed with each row.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
workloads=("$@")
((${#workloads[@]})) || workloads=(mlp6x1024_b128 vgg11bn_b32_32px resnet18_b32_32px vit6x192_b32_32px rank10000x100)
py=/usr/bin/python3
peer_env=()
case "${PEER_ISA:-${KELVIN_CPU_ISA:-native}}" in
  avx512) peer_env=(ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE DNNL_MAX_CPU_ISA=AVX512_CORE) ;;
  avx2) peer_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2) ;;
  generic) peer_env=(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 DNNL_MAX_CPU_ISA=SSE41) ;;
esac
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%-20s %12s %12s %8s  %s\n' workload "kelvin ms" "peer ms" ratio "kelvin path"
for w in "${workloads[@]}"; do
  k=(); p=(); isa=""
  for ((r = 0; r < rounds; r++)); do
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
