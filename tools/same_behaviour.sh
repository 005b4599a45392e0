#!/usr/bin/env bash
# Outputs that must not change under a structural change of the code: every file of a
# smoke run, and a cpu run's data / embed / index / tasks, a 30-step tune's adapter and a
# 100-user eval's predictions. Run it with the venv of each version, then compare:
#   tools/same_behaviour.sh .venv /tmp/before     (on the old commit)
#   tools/same_behaviour.sh .venv /tmp/after      (on the new one)
#   tools/same_behaviour.sh --compare /tmp/before /tmp/after
# Wall times (log.jsonl, timing.json) are left out of the comparison; a JSON file whose
# bytes differ passes when it is equal once its timing fields (seconds, runtimes, rates
# per second) are removed, and is listed as such.
set -euo pipefail
if [ "${1:-}" = "--compare" ]; then
  a=$2; b=$3; bad=0; n=0; timing=0
  while IFS= read -r f; do
    n=$((n + 1))
    cmp -s "$a/$f" "$b/$f" && continue
    if [[ "$f" == *.json ]] && python3 - "$a/$f" "$b/$f" <<'PY'
import json, sys
TIME = ("second", "runtime", "wall", "flos")
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not any(t in k.lower() for t in TIME)}
    return [strip(x) for x in o] if isinstance(o, list) else o
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if strip(a) == strip(b) else 1)
PY
    then echo "timing fields only: $f"; timing=$((timing + 1))
    else echo "DIFFERS: $f"; bad=1; fi
  done < <(cd "$a" && find . -type f ! -name log.jsonl ! -name timing.json ! -name '*.log' | sort)
  extra=$(comm -13 <(cd "$a" && find . -type f | sort) <(cd "$b" && find . -type f | sort))
  if [ -n "$extra" ]; then echo "only in $b:"; echo "$extra"; bad=1; fi
  echo "$n files compared: $((n - timing)) byte-identical, $timing equal but for their timing fields; $([ $bad = 0 ] && echo 'no other difference' || echo 'DIFFERENCES')"
  exit $bad
fi
venv=$1; out=$2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$out"
"$venv/bin/lcrec-mini" run --preset smoke --run-dir "$out/smoke" > "$out/smoke.log" 2>&1
for s in data embed index tasks; do
  "$venv/bin/lcrec-mini" "$s" --preset cpu --run-dir "$out/cpu" >> "$out/cpu.log" 2>&1
done
"$venv/bin/lcrec-mini" tune --preset cpu --run-dir "$out/cpu" --set tune.max_steps=30 \
  --set tune.eval_steps=1000 --set 'tune.snapshot_steps=[]' >> "$out/cpu.log" 2>&1
"$venv/bin/lcrec-mini" eval --preset cpu --run-dir "$out/cpu" --set tune.max_steps=30 \
  --set tune.eval_steps=1000 --set 'tune.snapshot_steps=[]' --set eval.max_users=100 >> "$out/cpu.log" 2>&1
# the tune folder's checkpoints are scratch; its adapter, meta and history are the output
rm -rf "$out/cpu/tune/checkpoints"
echo "wrote $out"
