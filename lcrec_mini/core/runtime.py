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


#: the CPU flags of native bf16 arithmetic (AVX-512 BF16 on AMD Zen 4/5 and Intel; AMX on Intel Xeon)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: flags that decide which float kernels PyTorch takes on an x86 CPU
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", *BF16_CPU_FLAGS, "amx_tile")


def _cpuinfo_fields(cpuinfo: str | None = None) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (``cpuinfo``: its text; read when
    None; no fields off Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for ln in cpuinfo.splitlines():
        key, sep, value = ln.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    return set(_cpuinfo_fields(cpuinfo).get("flags", "").split())


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    return bool(set(BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags))


def cpu_line(cpuinfo: str | None = None) -> str:
    """The processor a measurement ran on, for the label of a benchmark table: its model
    name, family and model numbers (some virtual machines name only the vendor, "AMD EPYC";
    the numbers tell its generation), and the flags that decide PyTorch's kernels.
    ``cpuinfo``: the text of /proc/cpuinfo (read when None; "unknown CPU" off Linux)."""
    fields = _cpuinfo_fields(cpuinfo)
    name = fields.get("model name", "unknown CPU")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    flags = set(fields.get("flags", "").split())
    shown = [f for f in KERNEL_FLAGS if f in flags]
    bf16 = "native bf16" if cpu_has_native_bf16(flags) else "no native bf16"
    return f"{name}; {os.cpu_count()} cores; flags {' '.join(shown) or '(none of ' + ', '.join(KERNEL_FLAGS[:3]) + ')'}; {bf16}"
