#!/usr/bin/env bash
# Times every CPU benchmark workload in kelvin and in its peer (Debian's PyTorch, 2 threads;
# numpy for the rank workload) in the same run, alternating the two, and prints one table row
# per workload: the median of the per-round medians and the kelvin/peer ratio.
#   bash scripts/bench-cpu.sh [rounds] [workload ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
workloads=("$@")
((${#workloads[@]})) || workloads=(mlp6x1024_b128 vgg11bn_b32_32px resnet18_b32_32px vit6x192_b32_32px rank10000x100)
py=/usr/bin/python3
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%-20s %12s %12s %8s\n' workload "kelvin ms" "peer ms" ratio
for w in "${workloads[@]}"; do
  k=(); p=()
  for ((r = 0; r < rounds; r++)); do
    k+=("$(${KELVIN:-build/kelvin} bench --workload "$w" --device cpu --steps 10 --warmup 2 | awk '{print $2}')")
    if [[ $w == rank10000x100 ]]; then
      p+=("$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $py bench/peers/numpy_rank.py | awk '{print $2}')")
    else
      p+=("$($py bench/peers/pytorch_workloads.py --workload "$w" --threads 2 --steps 10 --warmup 2 | awk '{print $2}')")
    fi
  done
  km=$(printf '%s\n' "${k[@]}" | median); pm=$(printf '%s\n' "${p[@]}" | median)
  awk -v w="$w" -v k="$km" -v p="$pm" 'BEGIN {printf "%-20s %12.2f %12.2f %8.2f\n", w, k, p, k / p}'
done
