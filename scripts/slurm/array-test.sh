#!/usr/bin/env bash
# Run a small sweep as a 4-task Slurm job array on a local single-node Slurm,
# merge it, and check the merged folder against the single-process run
# (identical files but for wall times). CI runs it; the daemons are stopped
# on every exit, failure included.
#
#   scripts/slurm/array-test.sh [POISONLAB_BINARY]   (default target/debug/poisonlab)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="$(realpath "${1:-target/debug/poisonlab}")"
scenario=scripts/slurm/sweep.toml
out="$PWD/target/slurm-test"
wait_limit=${POISONLAB_SLURM_WAIT:-600}   # seconds for the array and the merge

trap 'scripts/slurm/local-cluster.sh stop' EXIT
trap 'exit 143' TERM INT   # so that a timeout still stops the daemons
scripts/slurm/local-cluster.sh start
eval "$(scripts/slurm/local-cluster.sh env)"

rm -rf "$out"
start=$(date +%s%N)
submitted="$("$bin" slurm "$scenario" --shards 4 --cpus-per-task 1 --time 00:10:00 --out "$out/array" --submit)"
echo "$submitted"
array_id="$(sed -n 's/.*array job \([0-9]*\).*/\1/p' <<<"$submitted")"
merge_id="$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' <<<"$submitted")"
[[ -n "$array_id" && -n "$merge_id" ]] || { echo "no job ids in: $submitted" >&2; exit 1; }

deadline=$(( $(date +%s) + wait_limit ))
while [[ -n "$(squeue -h -j "$array_id,$merge_id" -o %i 2>/dev/null)" ]]; do
  if (( $(date +%s) > deadline )); then
    echo "the array or the merge did not finish within ${wait_limit} s:" >&2
    squeue -j "$array_id,$merge_id" >&2 || true
    scancel "$array_id" "$merge_id" || true
    tail -n 20 "$out"/array/slurm/logs/* >&2 || true
    exit 1
  fi
  sleep 1
done
array_ms=$(( ($(date +%s%N) - start) / 1000000 ))
merge_log="$(ls "$out"/array/slurm/logs/merge-*.out 2>/dev/null | head -n 1)"
if [[ ! -s "$out/array/report.md" ]]; then
  echo "the merge job wrote no report; logs:" >&2
  tail -n 20 "$out"/array/slurm/logs/* >&2 || true
  exit 1
fi
cat "$merge_log"

start=$(date +%s%N)
"$bin" run "$scenario" --out "$out/single" --quiet --threads "$(nproc)" >/dev/null
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))

# Identical but for wall times: `seconds` in runs.jsonl, the last column of runs.csv.
strip_jsonl() { sed -E 's/"seconds":\{[^}]*\}//g; s/"seconds":[-0-9.e+]+//g' "$1"; }
strip_csv() { sed -E 's/,[^,]*$//' "$1"; }
status=0
for f in summary.json report.md report.html audit.jsonl scenario.toml; do
  cmp "$out/array/$f" "$out/single/$f" || status=1
done
diff <(strip_jsonl "$out/array/runs.jsonl") <(strip_jsonl "$out/single/runs.jsonl") >/dev/null \
  || { echo "runs.jsonl differs beyond seconds" >&2; status=1; }
diff <(strip_csv "$out/array/runs.csv") <(strip_csv "$out/single/runs.csv") >/dev/null \
  || { echo "runs.csv differs beyond seconds" >&2; status=1; }
echo "slurm array (4 tasks, submit to merged): ${array_ms} ms; single process ($(nproc) threads): ${single_ms} ms"
if (( status == 0 )); then
  echo "the merged array equals the single-process run"
fi
exit "$status"
