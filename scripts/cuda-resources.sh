#!/usr/bin/env bash
# The static resource report of every CUDA kernel in kernels/cuda, from the sm_90 build:
# registers, shared memory and local-memory spills (ptxas -v), and the theoretical occupancy
# at each kernel's launch configuration on an H100/H200 SM. Needs nvcc; no GPU.
#
#   scripts/cuda-resources.sh               print the table (markdown)
#   scripts/cuda-resources.sh --write-docs  also replace the table in docs/KERNELS.md
#   scripts/cuda-resources.sh --check       exit 1 when a kernel spills, falls below the
#                                           occupancy its launch site promises, or has no promise
#
# Every launch `name<<<grid, block, ...>>>` in kernels/cuda/*.cu carries, on a comment line
# just above it, its block size and the occupancy it promises:
#   // launch: 256 threads, occupancy >= 100%
# (plus ", N B dynamic smem" when it uses dynamic shared memory). A spill that is known and
# accepted for now is recorded there too, "; known spill: 40 B in name<args>": the check then
# fails when that amount changes or any other kernel spills.
#
# Occupancy follows CUDA's occupancy calculator for compute capability 9.0: 64 warps, 32 blocks,
# 65536 registers and 228 KB of shared memory per SM; registers allocated per warp in units of
# 256; shared memory per block in units of 128 bytes plus 1 KB the runtime reserves per block.
# Takes about a minute on two cores (each .cu compiled once to a cubin; ccache is used when
# present, and it keeps ptxas's report).
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$NVCC" ]; then
  echo "cuda-resources: nvcc not found (set NVCC=...); the report needs the CUDA toolkit" >&2
  exit 2
fi
LAUNCHER=$(command -v ccache || true)
# CUDA_RESOURCES_DIR keeps the cubins and ptxas logs between runs; a .cu is compiled again only
# when it or a header of kernels/ is newer than its log.
if [ -n "${CUDA_RESOURCES_DIR:-}" ]; then
  OUT=$CUDA_RESOURCES_DIR
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} NVCC
ls kernels/cuda/*.cu | xargs -P "${JOBS:-2}" -I{} sh -c '
  stem=$(basename {} .cu)
  log="'"$OUT"'/$stem.log"
  if [ -f "$log" ] && [ -z "$(find {} kernels/*.h kernels/cuda/*.cuh -newer "$log" 2>/dev/null)" ]; then exit 0; fi
  '"$LAUNCHER"' "'"$NVCC"'" -std=c++17 -O3 --expt-relaxed-constexpr -lineinfo -arch=sm_90 -cubin \
    -Xptxas -v -DKELVIN_CUDA=1 -I. -o "'"$OUT"'/$stem.cubin" {} > "'"$OUT"'/$stem.log" 2>&1 ||
    { cat "'"$OUT"'/$stem.log" >&2; echo "cuda-resources: nvcc failed on {}" >&2; exit 1; }'
python3 - "$OUT" "$@" <<'PY'
import glob, math, os, re, subprocess, sys

out_dir, args = sys.argv[1], sys.argv[2:]
REGS_PER_SM, MAX_WARPS, MAX_BLOCKS, SMEM_PER_SM = 65536, 64, 32, 228 * 1024
REG_UNIT, SMEM_UNIT, SMEM_RESERVED = 256, 128, 1024

def occupancy(threads, regs, smem):
    warps = math.ceil(threads / 32)
    limits = {"warps": MAX_WARPS // warps, "blocks": MAX_BLOCKS}
    if regs:
        per_warp = math.ceil(regs * 32 / REG_UNIT) * REG_UNIT
        limits["registers"] = (REGS_PER_SM // per_warp) // warps
    per_block = math.ceil((smem + SMEM_RESERVED) / SMEM_UNIT) * SMEM_UNIT
    limits["shared memory"] = SMEM_PER_SM // per_block
    blocks = min(limits.values())
    limiter = min(limits, key=lambda k: limits[k])
    return blocks * warps / MAX_WARPS, blocks, limiter

def demangle(names):
    text = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout
    return text.splitlines()

def strip_templates(name):
    out, depth = "", 0
    for ch in name:
        depth += ch == "<"
        if depth == 0:
            out += ch
        depth -= ch == ">"
    return out

def base_name(demangled):
    """(name, name with template arguments) of a demangled kernel, namespaces dropped."""
    plain = demangled.replace("(anonymous namespace)::", "").replace("kelvin::cuda::", "")
    head = plain.split("(")[0]
    base = strip_templates(head).split()[-1].split("::")[-1]
    instance = head[head.find(base):] if base in head else base
    return base, instance

def ptxas_report(log):
    kernels, current = [], None
    for line in open(log):
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            current = {"mangled": m.group(1), "regs": 0, "smem": 0, "spill": 0, "stack": 0}
            kernels.append(current)
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            current["stack"] = int(m.group(1))
            current["spill"] = int(m.group(2)) + int(m.group(3))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            current["regs"] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            current["smem"] = int(s.group(1)) if s else 0
    return kernels

PROMISE = re.compile(r"//\s*launch:\s*(\d+) threads(?:,\s*(\d+) B dynamic smem)?,\s*occupancy >= (\d+)%"
                     r"(?:;\s*known spill:\s*(\d+) B in (\S+))?")
LAUNCH = re.compile(r"\b([A-Za-z_]\w*)\s*(?:<[^<>;]*>)?\s*<<<")

def promises(cu):
    """{kernel: [(threads, dynamic smem, promised %, line)]} from the comment above each launch."""
    text, found, problems, previous_end = open(cu).read(), {}, [], 0
    for m in LAUNCH.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = list(PROMISE.finditer(text, previous_end, m.start()))
        previous_end = m.end()
        if not before:
            problems.append(f"{cu}:{line}: launch of {m.group(1)} has no '// launch:' promise above it")
            continue
        p = before[-1]
        known = (p.group(5), int(p.group(4))) if p.group(4) else None
        found.setdefault(m.group(1), []).append(
            (int(p.group(1)), int(p.group(2) or 0), int(p.group(3)), line, known))
    return found, problems

rows, problems = [], []
for log in sorted(glob.glob(os.path.join(out_dir, "*.log"))):
    stem = os.path.basename(log)[:-4]
    cu = f"kernels/cuda/{stem}.cu"
    kernels = ptxas_report(log)
    if not kernels:
        continue
    launch_promises, p = promises(cu)
    problems += p
    for k, name in zip(kernels, demangle([k["mangled"] for k in kernels])):
        base, instance = base_name(name)
        if base not in launch_promises:
            problems.append(f"{cu}: kernel {instance} is compiled but no launch of it carries a promise")
            continue
        for threads, dynamic, promised, line, known in launch_promises[base]:
            occ, blocks, limiter = occupancy(threads, k["regs"], k["smem"] + dynamic)
            rows.append((stem, instance, line, threads, k["regs"], k["smem"] + dynamic, k["spill"],
                         k["stack"], occ, blocks, limiter, promised))
            if known and known[0] == instance and known[1] != k["spill"]:
                problems.append(f"{cu}:{line}: {instance} spills {k['spill']} bytes, not the "
                                f"{known[1]} B its launch comment records")
            elif k["spill"] and not (known and known[0] == instance):
                problems.append(f"{cu}:{line}: {instance} spills {k['spill']} bytes to local memory")
            if occ * 100 + 1e-9 < promised:
                problems.append(f"{cu}:{line}: {instance} reaches {occ:.0%} occupancy at {threads} "
                                f"threads ({k['regs']} registers, {k['smem'] + dynamic} B smem; "
                                f"limited by {limiter}), below the {promised}% its launch promises")
    seen = {base_name(n)[0] for n in demangle([k["mangled"] for k in kernels])}
    for name in launch_promises:
        if name not in seen:
            problems.append(f"{cu}: a launch promises occupancy for {name}, which ptxas did not report")

version = subprocess.run([os.environ["NVCC"], "--version"], capture_output=True,
                         text=True).stdout.strip().splitlines()
table = ["| file | kernel | launch line | threads | registers | smem (B) | spill (B) | stack (B) | "
         "blocks/SM | occupancy | limited by | promised |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for (stem, inst, line, threads, regs, smem, spill, stack, occ, blocks, limiter, promised) in rows:
    table.append(f"| {stem}.cu | `{inst}` | {line} | {threads} | {regs} | {smem} | {spill} | {stack} | "
                 f"{blocks} | {occ:.0%} | {limiter} | >= {promised}% |")
note = (f"Generated by `scripts/cuda-resources.sh --write-docs` ({version[-1] if version else 'nvcc'}, "
        f"sm_90; H100/H200 SM limits). {len(rows)} launches, "
        f"{sum(1 for r in rows if r[6])} with spills.")
text = note + "\n\n" + "\n".join(table) + "\n"
print(text)
if "--write-docs" in args:
    path = "docs/KERNELS.md"
    doc = open(path).read()
    begin, end = "<!-- cuda-resources:begin -->", "<!-- cuda-resources:end -->"
    if begin not in doc:
        doc += f"\n## Static resources of the CUDA kernels (sm_90)\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(head + begin + "\n" + text + end + tail)
    print(f"wrote {path}", file=sys.stderr)
if problems:
    print("\n".join(problems), file=sys.stderr)
if "--check" in args:
    if problems:
        print(f"cuda-resources: {len(problems)} problems", file=sys.stderr)
        sys.exit(1)
    spilling = sorted({r[1] for r in rows if r[6]})
    print(f"cuda-resources: {len(rows)} launches, every occupancy promise kept; spills only where "
          f"their launch records them ({', '.join(spilling) or 'none'})", file=sys.stderr)
PY
