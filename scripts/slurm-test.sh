#!/usr/bin/env bash
# The Slurm part of the test command (scripts/test.sh): sweeps as Slurm job arrays on a real
# private Slurm (scripts/slurm-cluster.sh: munged, slurmctld and slurmd on localhost, stopped by
# their pids at the end, also when a check fails), with the real sbatch, squeue, scancel and
# scontrol and the kelvin binary of BUILD_DIR (default build/):
#  (a) a 4-point MLP sweep (Fashion-MNIST classes 0-3, 300 steps a run) submitted with --slurm
#      ends with 4 runs, summary and report identical in content to the same sweep run by plain
#      `kelvin sweep` in one process (scripts/compare-sweeps.py says what it leaves out: times,
#      the folder's path, the report's date);
#  (b) preemption: a running task gets `scancel --signal=USR2 --full`; it checkpoints at the
#      next step, requeues itself, restarts, and its run ends bitwise identical to the
#      uninterrupted one (in (a)'s comparison); its log shows the checkpoint and the requeue, and
#      `kelvin sweep status` shows the run partial in between;
#  (c) two `kelvin sweep run-one` on one index at once: exactly one trains, the other names the
#      lock's holder and exits 0.
# Ends with "slurm tests: passed (N s)" or "slurm tests: FAILED: why" (exit 1). A cluster that
# cannot start fails the tests, with the daemon and its log's end.
#   bash scripts/slurm-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KELVIN=$(cd "${1:-build}" && pwd)/kelvin
START=$SECONDS

fail() { echo "slurm tests: FAILED: $*" >&2; exit 1; }
[[ -x $KELVIN ]] || fail "no kelvin binary at $KELVIN (build it first)"
[[ -d /usr/share/datasets/fashion-mnist ]] ||
  fail "Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist; Debian package dataset-fashion-mnist)"

WORK=$(mktemp -d /tmp/kelvin-slurm.XXXXXX)   # short: munged's socket path must fit in 108 bytes
CLUSTER=$WORK/cluster
cleanup() {
  local rc=$?
  bash "$ROOT/scripts/slurm-cluster.sh" stop "$CLUSTER" > /dev/null 2>&1 ||
    echo "slurm tests: could not stop the private Slurm under $CLUSTER" >&2
  if ((rc != 0)) && [[ -d $WORK ]]; then
    for log in "$WORK"/*/slurm/logs/*.out "$WORK"/*.log; do
      [[ -f $log ]] && { echo "--- $log (last lines)" >&2; tail -n 8 "$log" >&2; }
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! started=$(bash scripts/slurm-cluster.sh start "$CLUSTER" 2>&1); then
  echo "$started" >&2
  fail "the private Slurm did not start (the reason is above: a missing tool, or which daemon failed with the end of its log)"
fi
export SLURM_CONF=$CLUSTER/slurm.conf
export OMP_NUM_THREADS=1   # the plain sweep and the tasks (--cpus-per-task 1) alike

cat > "$WORK/sweep.json" <<'JSON'
{"models": ["mlp"], "datasets": ["fashion-mnist:classes=0-3"], "ood": ["fashion-mnist:classes=4-5"],
 "temperatures": [1, 10], "seeds": [1, 2], "epochs": 6, "batch_size": 100, "train_subset": 5000,
 "depth": 3, "width": 512, "lr": 0.05, "schedule": "cosine", "track_every": 25,
 "samples": 300, "probe_train_samples": 300, "probe_epochs": 2, "device": "cpu"}
JSON

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s; fails naming WHAT on timeout.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${deadline}s of the test waiting for: $what"
    sleep 0.2
  done
}
first_name() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['runs'][int(sys.argv[2])])" "$1" "$2"; }
active_tasks() { squeue -h -r -j "$1" -t PENDING,RUNNING,COMPLETING,CONFIGURING,REQUEUED,REQUEUE_HOLD,SUSPENDED -o %i; }
no_active_tasks() { [[ -z $(active_tasks "$1") ]]; }

# ---- (a) + (b): the sweep as a job array, one task preempted ---------------------------------
S=$WORK/slurm-sweep
"$KELVIN" sweep --config "$WORK/sweep.json" --out "$S" --slurm --cpus-per-task 1 \
  --signal-seconds 120 > "$WORK/submit.log" 2>&1 || fail "kelvin sweep --slurm: $(cat "$WORK/submit.log")"
JOB=$(sed -nE 's/^submitted Slurm array job ([0-9]+):.*/\1/p' "$WORK/submit.log")
[[ -n $JOB ]] || fail "kelvin sweep --slurm printed no job id: $(cat "$WORK/submit.log")"
grep -q "progress: kelvin sweep status $S" "$WORK/submit.log" || fail "no progress command printed"
for line in "--array=0-3" "--requeue" "--open-mode=append" "--signal=B:USR2@120" \
            "--output=$S/slurm/logs/%A_%a.out" "--cpus-per-task=1"; do
  grep -qxF -- "#SBATCH $line" "$S/slurm/sweep.sbatch" || fail "sweep.sbatch lacks #SBATCH $line"
done

# Preempt task 0 once it is past its first epoch (5 to go): mid-run, never while pending
# (scancel retries a pending task's signal until it runs, which would signal it again later).
LOG0=$S/slurm/logs/${JOB}_0.out
task_running() { [[ $(squeue -h -j "${JOB}_0" -o %T 2>/dev/null) == RUNNING ]] && grep -q "^epoch 1/6" "$LOG0"; }
wait_until 90 "task ${JOB}_0 running past epoch 1" task_running
# scancel signals the task at once, but while other tasks of the array are pending Slurm 22.05
# answers "Job can not be altered now, try again later" and scancel retries every ~5 s,
# signalling the (requeued, restarted) task again each time: one signal is wanted, so it gets
# 3 seconds (docs/CLUSTER.md).
set +e
timeout 3 scancel --signal=USR2 --full "${JOB}_0"
scancel_rc=$?
set -e
((scancel_rc == 0 || scancel_rc == 124)) || fail "scancel --signal=USR2 --full ${JOB}_0 exited $scancel_rc"
wait_until 30 "task ${JOB}_0 to requeue itself (its log: $(tail -n 2 "$LOG0" | tr '\n' ' '))" \
  grep -q "requeueing Slurm task ${JOB}_0" "$LOG0"
set +e
"$KELVIN" sweep status "$S" > "$WORK/status-during.log" 2>&1
status_rc=$?
set -e
((status_rc == 1)) || fail "kelvin sweep status exited $status_rc while a run was unfinished (expected 1)"
grep -E "^\[0\] .*: partial at epoch [0-9]+ of 6 \(interrupted at step [0-9]+ by SIGUSR2\)" \
  "$WORK/status-during.log" > /dev/null ||
  fail "kelvin sweep status did not show run 0 as interrupted: $(cat "$WORK/status-during.log")"

wait_until 180 "every task of job $JOB to end (squeue: $(active_tasks "$JOB" | tr '\n' ' '))" no_active_tasks "$JOB"
for expected in "checkpoint written; resume with: kelvin sweep run-one $S --index 0" \
                "requeueing Slurm task ${JOB}_0 (scontrol requeue ${JOB}_0)" \
                "task ${JOB}_0 on .*, restart 1" "resuming (interrupted)"; do
  grep -q -- "$expected" "$LOG0" || fail "the log of task ${JOB}_0 lacks '$expected'"
done
states=$(squeue -h -r -j "$JOB" --states=all -o '%K %T' | sort -n | tr '\n' ' ')
[[ $states == "0 COMPLETED 1 COMPLETED 2 COMPLETED 3 COMPLETED " ]] ||
  fail "job $JOB's tasks did not all complete: $states"
"$KELVIN" sweep status "$S" > "$WORK/status-after.log" 2>&1 ||
  fail "kelvin sweep status says not finished: $(cat "$WORK/status-after.log")"
grep -q "^4 runs: 4 finished" "$WORK/status-after.log" || fail "status counts: $(tail -n 2 "$WORK/status-after.log")"
[[ -z $(ls -A "$S/locks") ]] || fail "locks left behind in $S/locks: $(ls "$S/locks")"

P=$WORK/plain-sweep
"$KELVIN" sweep --config "$WORK/sweep.json" --out "$P" > "$WORK/plain.log" 2>&1 ||
  fail "the plain kelvin sweep failed: $(tail -n 3 "$WORK/plain.log")"
python3 scripts/compare-sweeps.py "$P" "$S" > "$WORK/compare.log" 2>&1 ||
  fail "the Slurm sweep differs from the plain one: $(cat "$WORK/compare.log")"
echo "slurm tests: (a)+(b) job array of 4 tasks, task 0 preempted and requeued: identical to the plain sweep ($(tail -n 1 "$WORK/compare.log"))"

# ---- (c): two workers on one index at once ------------------------------------------------
W=$WORK/two-workers
"$KELVIN" sweep --config "$WORK/sweep.json" --out "$W" --slurm --dry-run > "$WORK/dry.log" 2>&1 ||
  fail "--slurm --dry-run: $(cat "$WORK/dry.log")"
[[ -f $W/slurm/sweep.sbatch && ! -e $W/slurm/job_id ]] || fail "--dry-run did not just write the script"
"$KELVIN" sweep run-one "$W" --index 1 > "$WORK/worker-a.log" 2>&1 & A=$!
"$KELVIN" sweep run-one "$W" --index 1 > "$WORK/worker-b.log" 2>&1 & B=$!
set +e
wait $A; rc_a=$?
wait $B; rc_b=$?
set -e
((rc_a == 0 && rc_b == 0)) || fail "the two workers exited $rc_a and $rc_b (expected 0 and 0)"
trained=0 held=0
for w in a b; do
  other=$([[ $w == a ]] && echo $B || echo $A)
  if grep -q ": starting$" "$WORK/worker-$w.log"; then trained=$((trained + 1)); fi
  if grep -q ": held by pid $other on " "$WORK/worker-$w.log"; then held=$((held + 1)); fi
done
((trained == 1 && held == 1)) ||
  fail "expected one worker to train and one to name the other as the holder; trained $trained, held $held"
name1=$(first_name "$W/sweep.json" 1)
[[ -d $W/runs/$name1 && ! -e $W/runs/$name1.partial ]] || fail "run 1 ($name1) did not finish in $W"
[[ -z $(ls -A "$W/locks") ]] || fail "locks left behind in $W/locks: $(ls "$W/locks")"
echo "slurm tests: (c) two workers on index 1: one trained, the other named its pid as the holder and exited 0"

echo "slurm tests: passed ($((SECONDS - START)) s, private Slurm and all three parts)"
