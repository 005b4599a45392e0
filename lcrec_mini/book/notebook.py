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

import yaml

from lcrec_mini import __version__
from lcrec_mini.core.config import Config, make_config
from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import missing_stages, run_named_stage


@dataclass
class NotebookEnv:
    cfg: Config
    run_dir: Path
    device: str


def repo_root() -> Path | None:
    """The checkout this package was installed from (editable install), if any."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").exists() and (here / "notebooks").exists() else None


#: the one file where a reader chooses the preset (and where runs go) for every notebook
SETTINGS = "lcrec-mini.yaml"
#: a Google Drive folder every Colab runtime sees once Drive is mounted
DRIVE = Path("/content/drive/MyDrive/lcrec-mini")


def settings_file() -> Path | None:
    """``lcrec-mini.yaml`` in the working folder or one above it (a checkout's root holds
    the notebooks' folder), else in the Drive folder ``MyDrive/lcrec-mini`` when mounted."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents[:2], DRIVE):
        if (folder / SETTINGS).is_file():
            return folder / SETTINGS
    return None


def read_settings() -> dict[str, Any]:
    """The reader's settings: ``preset``, ``runs`` (the folder of the run folders) and
    ``overrides``, each optional; an unknown key is an error naming the file."""
    path = settings_file()
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with the keys preset, runs and overrides")
    unknown = sorted(set(data) - {"preset", "runs", "overrides"})
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; expected preset, runs and overrides")
    return {**data, "file": str(path)}


def choose_preset(preset: str | None, settings: dict[str, Any] | None = None) -> str:
    """The preset a notebook runs: the one it was given (papermill, a reader's edit), else
    ``$LCREC_MINI_PRESET``, else the settings file's, else ``colab`` on a machine with a
    CUDA GPU and ``cpu`` without one. Every notebook asks here, so a reader chooses once."""
    import torch

    settings = read_settings() if settings is None else settings
    return (preset or os.environ.get("LCREC_MINI_PRESET") or settings.get("preset")
            or ("colab" if torch.cuda.is_available() else "cpu"))


def resolve_run_dir(run_dir: str | os.PathLike | None, preset: str, settings: dict[str, Any] | None = None) -> Path:
    """``None`` -> ``<runs>/<preset>``: ``runs`` from the settings file (relative to it),
    else ``<checkout>/runs`` (or ``./runs`` outside a checkout)."""
    if run_dir:
        return Path(run_dir).expanduser().resolve()
    settings = settings or {}
    if settings.get("runs"):
        runs = Path(settings["runs"]).expanduser()
        base = Path(settings["file"]).parent if "file" in settings else Path.cwd()
        return (runs if runs.is_absolute() else base / runs).joinpath(preset).resolve()
    root = repo_root()
    return ((root or Path.cwd()) / "runs" / preset).resolve()


def setup(preset: str | None = None, run_dir: str | os.PathLike | None = None,
          overrides: dict[str, Any] | None = None, quiet: bool = False) -> NotebookEnv:
    """Config from the preset (:func:`choose_preset`) + the settings file's overrides +
    ``overrides``; prints what was found (GPU or CPU, versions, where the preset came from)."""
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
    settings = read_settings()
    given = preset
    preset = choose_preset(preset, settings)
    cfg = make_config(preset, overrides={**(settings.get("overrides") or {}), **(overrides or {})})
    rd = resolve_run_dir(run_dir, preset, settings)
    rd.mkdir(parents=True, exist_ok=True)
    device = pick_device("auto")
    if not quiet:
        gpu = f"GPU: {torch.cuda.get_device_name(0)}" if device == "cuda" else f"no GPU; {os.cpu_count()} CPU cores"
        print(f"lcrec-mini {__version__} | torch {torch.__version__} | Python {platform.python_version()} | {gpu}")
        root = repo_root()
        shown = rd.relative_to(root) if root and rd.is_relative_to(root) else rd
        why = ("" if given else " (from $LCREC_MINI_PRESET)" if os.environ.get("LCREC_MINI_PRESET")
               else f" (from {settings['file']})" if settings.get("preset") else " (the default for this machine)")
        print(f"preset {preset!r}{why}, seed {cfg.seed}, run folder {shown}")
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
