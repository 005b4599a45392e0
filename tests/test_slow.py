"""Tier 4: real models on real data (minutes of CPU). `make test-slow` runs these."""

import json

import numpy as np
import pytest

from lcrec_mini.core.config import make_config
from lcrec_mini.data.stage import run_data
from lcrec_mini.index.collisions import collision_rate
from lcrec_mini.index.embed import encode_texts, load_encoder, run_embed
from lcrec_mini.index.stage import load_codes, run_index

pytestmark = pytest.mark.slow


def test_cpu_preset_index_on_ml100k_meets_its_targets(tmp_path):
    cfg = make_config("cpu")
    for stage in (run_data, run_embed, run_index):
        stage(cfg, tmp_path, log=lambda m: None)
    codes = load_codes(tmp_path, 1349)
    assert collision_rate(codes) == 0
    st = json.loads((tmp_path / "index" / "stats.json").read_text())
    assert st["collision_rate_before_fixup"] > 0  # reported, and there is something to fix
    assert all(l["used"] >= l["of"] / 2 for l in st["per_level"])
    assert st["items_with_identical_embeddings"] == 18  # nine films listed twice


def test_smollm2_dequantizes_once_and_embeds(tmp_path):
    tok, model = load_encoder("smollm2", str(tmp_path / "cache"), "cpu")
    x = encode_texts(["Toy Story", "GoldenEye", "Toy Story"], tok, model, batch_size=2)
    assert x.shape == (3, model.config.hidden_size) and np.isfinite(x).all()
    assert np.allclose(x[0], x[2], atol=1e-5) and not np.allclose(x[0], x[1])
    assert (tmp_path / "cache" / "models" / "smollm2-135m-instruct" / "config.json").exists()


def test_tune_runs_on_two_cpu_processes_with_gloo(tmp_path):
    """The same entry point under torchrun: 2 processes, DDP over gloo, a few steps."""
    import os
    import socket
    import subprocess
    import sys

    from lcrec_mini.tasks.stage import run_tasks

    cfg = make_config("smoke")
    for stage in (run_data, run_embed, run_index, run_tasks):
        stage(cfg, tmp_path, log=lambda m: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # one thread per process: two processes spinning two threads each on two cores
    # slow each other down by an order of magnitude
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
        "-m", "lcrec_mini", "tune", "--preset", "smoke", "--run-dir", str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((tmp_path / "tune" / "train_stats.json").read_text())
    assert stats["world_size"] == 2 and stats["steps"] == cfg.tune.max_steps
    assert (tmp_path / "tune" / "model" / "adapter_model.safetensors").exists()
    assert not list(tmp_path.glob(".tune.tmp-*")) and not list(tmp_path.glob(".tune-work-*"))
