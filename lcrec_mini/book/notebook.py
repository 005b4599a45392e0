"""What every notebook does first: report the machine, resolve the run folder, build the config.

    from lcrec_mini.book.notebook import setup, stage
    env = setup(preset, run_dir, overrides)   # prints device, versions, run folder
    stage("data", env)                          # runs (or skips) one pipeline stage
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lcrec_mini import __version__
from lcrec_mini.core.config import Config, make_config
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import missing_stages, run_named_stage


@dataclass
class NotebookEnv:
    cfg: Config
    run_dir: Path
    device: str


def repo_root() -> Path | None:
    """The checkout this package was installed from (editable install), if any."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() and (here / "notebooks").exists() else None


def resolve_run_dir(run_dir: str | os.PathLike | None, preset: str) -> Path:
    """``None`` -> ``<checkout>/runs/<preset>`` (or ``./runs/<preset>`` outside a checkout)."""
    if run_dir:
        return Path(run_dir).expanduser().resolve()
    root = repo_root()
    return ((root or Path.cwd()) / "runs" / preset).resolve()


def setup(preset: str = "cpu", run_dir: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None,
          quiet: bool = False) -> NotebookEnv:
    """Config from ``preset`` + ``overrides``; prints what was found (GPU or CPU, versions)."""
    import torch

    try:  # figures inline and crisp in Jupyter; harmless elsewhere
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.run_line_magic("matplotlib", "inline")
            ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    except Exception:  # noqa: BLE001 - not in IPython
        pass

    # a notebook shows what the reader needs: no library deprecation notices, no bars for weight loading
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    cfg = make_config(preset, overrides=overrides or {})
    rd = resolve_run_dir(run_dir, preset)
    rd.mkdir(parents=True, exist_ok=True)
    device = pick_device("auto")
    if not quiet:
        gpu = f"GPU: {torch.cuda.get_device_name(0)}" if device == "cuda" else f"no GPU; {os.cpu_count()} CPU cores"
        print(f"lcrec-mini {__version__} | torch {torch.__version__} | Python {platform.python_version()} | {gpu}")
        root = repo_root()
        shown = rd.relative_to(root) if root and rd.is_relative_to(root) else rd
        print(f"preset {preset!r}, seed {cfg.seed}, run folder {shown}")
        if overrides:
            print("overrides:", ", ".join(f"{k}={v!r}" for k, v in overrides.items()))
    return NotebookEnv(cfg, rd, device)


def stage(name: str, env: NotebookEnv, force: bool = False):
    """Run one stage (skipped when its outputs exist for this config); returns its StageResult.

    A notebook opened alone (a fresh Colab runtime) may find the run folder without the
    stages this one reads: those run first, each announced with what needs it and followed
    by its time."""
    # the run folder relative to the working directory, so what the stage prints (and what a
    # committed notebook keeps) names no path of the machine it ran on
    try:
        shown = Path(os.path.relpath(env.run_dir))
    except ValueError:  # another drive (Windows)
        shown = env.run_dir
    for up in [s for s in missing_stages(env.run_dir, name) if s != name]:
        print(f"[{up}] not in {shown} yet; the {name} stage needs it, so it runs first")
        t0 = time.perf_counter()
        run_named_stage(up, env.cfg, shown, False, log=_stage_log(up, shown))
        print(f"[{up}] done in {time.perf_counter() - t0:.0f} s")
    return run_named_stage(name, env.cfg, shown, force, log=_stage_log(name, shown))


def _stage_log(name: str, shown: Path):
    """A stage's messages for a notebook: everything while it runs; when it is up to date,
    one short line instead of the skip notice and the summary (the notebook shows its
    own tables of the same files)."""
    skipped = False

    def log(msg: str) -> None:
        nonlocal skipped
        if msg.startswith(f"[{name}] up to date"):
            skipped = True
            print(f"[{name}] up to date in {shown / name}")
        elif not skipped:
            print(msg)

    return log
