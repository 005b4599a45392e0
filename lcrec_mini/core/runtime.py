"""Where things run and where downloads live: used by every stage, so in a module of its own."""

from __future__ import annotations

import os
from pathlib import Path


def pick_device(requested: str = "auto") -> str:
    """``auto`` -> cuda when there is a GPU, else mps (Apple), else cpu; anything else as given."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_cache_dir(configured: str = "") -> Path:
    """``configured``, else ``$LCREC_MINI_CACHE``, else ``~/.cache/lcrec-mini``."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("LCREC_MINI_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lcrec-mini"
