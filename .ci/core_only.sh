#!/usr/bin/env bash
# `pip install .` without extras gives a working ingest / info / cutout / objects stats /
# connectome build, and a missing extra is one clear line naming it (exit 2).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$repo"
export PATH="$work/venv/bin:$PATH"
cd "$work"
python - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
np.save("seg.npy", rng.integers(0, 50, (16, 200, 200), dtype=np.uint32))
n = 2000
pd.DataFrame({"pre_pt_root_id": rng.integers(1, 30, n) + 2**60,
              "post_pt_root_id": rng.integers(1, 90, n) + 2**60,
              "size": rng.integers(1, 500, n)}).to_parquet("syn.parquet")
PY
export CONNECTOSCOPE_PROGRESS=0
connectoscope ingest seg.npy d.cscope --layer segmentation --voxel-size 8,8,40
connectoscope info d.cscope > /dev/null
connectoscope cutout d.cscope --layer segmentation --bbox 0,0,0:64,64,8 -o cut.npy
connectoscope objects stats d.cscope > /dev/null
connectoscope connectome build syn.parquet -o conn
connectoscope connectome stats conn > /dev/null
python -c "from connectoscope.connectome import load_matrix; assert load_matrix('conn').stats()['synapses'] == 2000"
set +e
connectoscope surfaces d.cscope --where 3 -o m/ 2> err.txt
rc=$?
set -e
test "$rc" = 2
grep -q 'connectoscope\[mesh\]' err.txt
! grep -q Traceback err.txt
echo "core-only install: ingest, info, cutout, objects stats, connectome build work; extras named when missing"
