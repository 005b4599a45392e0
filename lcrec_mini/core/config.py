"""Configuration: plain dataclasses, four presets, and overrides.

A config is a tree of dataclasses, one section per pipeline stage, plus a few global
fields (``seed``). A preset is plain data: a dict of dotted keys
(``{"data.max_users": 200}``) applied on top of the defaults. Overrides come, in
this order, from a YAML file, from ``--set key=value`` on the command line, or from a
notebook's ``parameters`` cell (a dict of the same dotted keys). Every key is checked:
an unknown key is an error that lists the valid ones.

Fields marked ``fingerprint=False`` (caches, URLs, timeouts) do not change what a
stage produces, so changing them does not make a stage run again.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.tasks.templates import TASKS


def _nofp(default: Any, help: str = "") -> Any:
    """A field that does not change a stage's output (excluded from fingerprints)."""
    return field(default=default, metadata={"fingerprint": False, "help": help})


@dataclass
class DataConfig:
    """Where the interactions come from and how they are filtered (stage ``data``)."""

    #: ``ml-100k`` | ``amazon2018:<Category>`` | ``amazon2023:<Category>`` | ``lcrec:<folder>``
    source: str = "ml-100k"
    #: iterative k-core thresholds (LC-Rec uses 5 and 5)
    min_user_interactions: int = 5
    min_item_interactions: int = 5
    #: longest history a model sees (LC-Rec: 20); the split keeps the full sequence
    max_history: int = 20
    #: keep only the first N users (by id) after filtering, then filter again; for smoke runs
    max_users: int | None = None
    #: where downloads are kept (``$LCREC_MINI_CACHE`` or ``~/.cache/lcrec-mini`` when empty)
    cache_dir: str = _nofp("", "download cache folder")
    amazon2018_base_url: str = _nofp(
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2", "Amazon 2018 mirror"
    )
    amazon2023_base_url: str = _nofp(
        "https://huggingface.co/datasets/McAuley-Lab/Amazon-Reviews-2023/resolve/main",
        "Amazon 2023 dataset repository (files by explicit path)",
    )
    download_timeout_s: float = _nofp(60.0, "seconds without a byte before a download fails")


@dataclass
class EmbedConfig:
    """Item text -> vectors (stage ``embed``)."""

    #: ``minilm`` | ``smollm2`` (the LLM itself, as the paper) | a Hugging Face name or folder
    model: str = "minilm"
    #: item fields embedded separately, then averaged; empty = the source's own (data/stats.json)
    fields: list[str] = field(default_factory=list)
    max_length: int = 128
    #: collaborative vectors appended to the text vectors (0 = text only, as LC-Rec): the
    #: top ``cf_dims`` singular vectors of the items' co-occurrence in the training part of
    #: the sequences (nothing of the valid/test items); both parts L2-normalised per item
    cf_dims: int = 0
    #: weight of the collaborative part against the text part (each of norm 1)
    cf_weight: float = 1.0
    #: two items co-occur when at most this many positions apart in a training sequence
    cf_window: int = 5
    #: where the collaborative vectors come from: ``cooccurrence`` (the top singular vectors
    #: of the co-occurrence matrix) or ``sasrec`` (the item embeddings of a SASRec trained
    #: on the training part of the sequences, projected to ``cf_dims`` by PCA; LETTER's idea)
    cf_source: str = "cooccurrence"
    batch_size: int = _nofp(64, "texts per forward pass")
    device: str = _nofp("auto", "auto | cpu | cuda | mps")


@dataclass
class IndexConfig:
    """Embeddings -> unique item indices (stage ``index``). Defaults: the paper's scale."""

    #: ``lcrec`` | ``rqvae`` (no uniform semantic mapping) | ``rqkmeans`` | ``random``
    method: str = "lcrec"
    levels: int = 4
    codebook_size: int = 256
    e_dim: int = 32
    #: hidden sizes of the MLP encoder (the decoder mirrors them)
    layers: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128, 64])
    dropout: float = 0.0
    beta: float = 0.25
    quant_weight: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 500
    batch_size: int = 1024
    warmup_epochs: int = 10
    #: Sinkhorn-Knopp at the last level: entropic regularisation and iterations
    sk_epsilon: float = 0.003
    sk_iters: int = 50
    #: at most this many Lloyd iterations of the codebooks' k-means initialisation (scikit-learn)
    kmeans_iters: int = 50
    #: rounds of Sinkhorn over colliding groups before the final deterministic step
    fix_rounds: int = 20
    #: an ``rqvae.pt`` to index with instead of training one (methods lcrec and rqvae)
    checkpoint: str = ""
    eval_every: int = _nofp(1, "epochs between collision-rate evaluations")
    device: str = _nofp("auto", "auto | cpu | cuda | mps")


@dataclass
class TasksConfig:
    """Alignment tasks as instruction examples (stage ``tasks``)."""

    #: which of seqrec, item2index, index2item, fusionseqrec, itemsearch, preferenceobtain
    tasks: list[str] = field(
        default_factory=lambda: ["seqrec", "item2index", "index2item", "fusionseqrec", "itemsearch", "preferenceobtain"]
    )
    #: training examples kept per task (0 = all); a random subset, seeded
    seqrec_samples: int = 0
    item2index_samples: int = 0
    index2item_samples: int = 0
    fusionseqrec_samples: int = 10000
    itemsearch_samples: int = 10000
    preferenceobtain_samples: int = 0
    #: rows per item in item2index and in index2item (each row draws its own text variant
    #: and template): 2 aligns every item with its index twice per epoch in each direction
    index_passes: int = 1
    #: user preference / intention text: ``template`` (deterministic) or ``llm``
    user_text: str = "template"
    user_text_model: str = "smollm2"
    #: item text longer than this is cut at a word boundary in prompts and responses
    max_text_chars: int = 200
    #: longest history in a prompt (0 = the data stage's data.max_history)
    max_history: int = 0
    #: seqrec training examples: ``prefix`` (LC-Rec: one example per next-item target, the
    #: loss on its response only) or ``window`` (sliding windows of ``max_history`` + 1
    #: items tiling each training sequence from its end; the loss is taken on the index
    #: tokens of every history item and of the response, so one example trains ~21 targets)
    seqrec_format: str = "prefix"


@dataclass
class TuneConfig:
    """Alignment tuning of the LLM (stage ``tune``)."""

    #: ``smollm2`` | ``tiny`` (random 2-layer Llama, smoke runs) | a Hugging Face name or folder
    model: str = "smollm2"
    #: ``lora`` (peft; the new token rows trained too) or ``full``
    method: str = "lora"
    #: keep only the LLM's first N decoder layers (0 = all); a smaller, faster model
    #: (the tuning cost is nearly proportional to the layers kept)
    num_layers: int = 0
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    epochs: int = 3
    #: stop after this many optimizer steps (0 = run all epochs)
    max_steps: int = 0
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    max_length: int = 256
    #: put the short system message before every prompt (costs tokens on every example)
    system_prompt: bool = True
    #: group examples of similar length into batches (less padding)
    group_by_length: bool = True
    #: logits only at response positions: the vocabulary projection of prompt tokens is skipped
    response_only_logits: bool = True
    #: score index-token targets against the index-token rows only (the full vocabulary
    #: for text targets); LC-Rec scores every target against the whole vocabulary
    index_softmax: bool = False
    #: first rows of the index tokens: ``mean`` (vocabulary mean + small noise) or
    #: ``semantic`` (residual means of the word embeddings of their items' titles, spread like the words)
    index_init: str = "mean"
    #: learning rate of the index-token rows (0 = tune.lr); with ``method=full`` and a
    #: value here (or a warm-up) the word rows of the embedding stay as pretrained
    index_lr: float = 0.0
    #: optimizer steps at the start during which only the index-token rows train
    embed_warmup_steps: int = 0
    gradient_checkpointing: bool = False
    eval_samples: int = 200
    eval_steps: int = 200
    save_steps: int = 200
    #: optimizer steps at which the adapter is also kept in ``tune/snapshots/step-N`` (the
    #: compute curve evaluates them: benchmarks/compute_curve.py)
    snapshot_steps: list[int] = field(default_factory=list, metadata={"fingerprint": False,
                                      "help": "steps whose adapter is kept in tune/snapshots"})
    logging_steps: int = 10
    #: a DeepSpeed config file (the paper preset: configs/ds_zero3.json); needs `pip install deepspeed`
    deepspeed: str = _nofp("", "DeepSpeed JSON config")
    #: a checkpoint folder to resume from (it must come from the same config)
    resume_from: str = _nofp("", "checkpoint-N folder of an earlier tune run")
    #: the training seed: LoRA's initial matrices, the index rows' noise, the order of the
    #: examples and every template drawn for them (none: the run's ``seed``, which also
    #: fixes the data, the index and the task examples). Retraining with other values
    #: measures how much a verdict owes to one training run's luck.
    seed: int | None = None
    #: ``auto`` (bf16 autocast on a GPU that supports it and on a CPU with native bf16
    #: instructions, AVX-512 BF16 or AMX; fp32 otherwise), ``bf16`` or ``fp32`` to force either
    precision: str = "auto"
    device: str = _nofp("auto", "auto | cpu | cuda")


@dataclass
class EvalConfig:
    """Generation and full-ranking metrics (stage and folder ``eval``)."""

    beams: int = 20
    batch_size: int = 16
    #: average the metrics over every seqrec template, as the paper does (else the drawn one)
    all_templates: bool = False
    #: evaluate only the first N test users (0 = all)
    max_users: int = 0
    device: str = _nofp("auto", "auto | cpu | cuda")


@dataclass
class BaselinesConfig:
    """Most-popular and SASRec on the same split (stage ``baselines``)."""

    #: SASRec's longest input sequence (its own setting, separate from the LLM's history cap)
    max_len: int = 20
    #: training windows per epoch: ``all`` (windows tiling every training sequence),
    #: ``random`` (one window of max_len + 1 items per user, ending at a random position,
    #: drawn anew each epoch) or ``last`` (each user's most recent max_len + 1 training
    #: items, as in the SASRec paper)
    sasrec_windows: str = "all"
    #: std of the initial item/position embeddings (0 = PyTorch's N(0, 1)); 0.02 as RecBole:
    #: the logits start near zero instead of at ~8 (benchmarks/results/sasrec.md)
    sasrec_init_std: float = 0.02
    sasrec_hidden: int = 64
    sasrec_layers: int = 2
    sasrec_heads: int = 2
    sasrec_dropout: float = 0.2
    sasrec_lr: float = 1e-3
    sasrec_batch: int = 128
    sasrec_epochs: int = 200
    #: validate (NDCG@10 on the validation items) every this many epochs
    sasrec_eval_every: int = 2
    #: stop after this many validations without a better validation NDCG@10
    sasrec_patience: int = 10


@dataclass
class Config:
    """The whole pipeline's configuration."""

    preset: str = "cpu"
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)

    # -- views -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def section(self, name: str) -> Any:
        if name not in SECTIONS:
            raise ConfigError(f"no config section {name!r}; sections are {sorted(SECTIONS)}")
        return getattr(self, name)

    def fingerprint_dict(self, section: str) -> dict[str, Any]:
        """The fields of ``section`` that change its stage's output, plus the seed."""
        sec = self.section(section)
        out = {
            f.name: getattr(sec, f.name)
            for f in dataclasses.fields(sec)
            if f.metadata.get("fingerprint", True)
        }
        if section == "embed" and self.embed.cf_dims and self.embed.cf_source == "sasrec":
            # the embed stage then trains the baselines' SASRec: its settings shape the output
            out["sasrec"] = dataclasses.asdict(self.baselines)
        return {"seed": self.seed, section: out}

    def fingerprint(self, section: str) -> str:
        blob = json.dumps(self.fingerprint_dict(section), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


SECTIONS = {
    f.name
    for f in dataclasses.fields(Config)
    if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory())
}

#: Presets are plain data: dotted keys over the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # seconds per stage (CI): 100 ML-100K users, a tiny RQ-VAE
    "smoke": {
        "data.max_users": 100,
        "embed.max_length": 32,
        "embed.cf_dims": 8,
        "index.levels": 3,
        "index.codebook_size": 16,
        "index.e_dim": 16,
        "index.layers": [64],
        "index.epochs": 10,
        "index.batch_size": 256,
        "index.warmup_epochs": 1,
        "index.kmeans_iters": 10,
        "tasks.seqrec_samples": 200,
        "tasks.item2index_samples": 60,
        "tasks.index2item_samples": 60,
        "tasks.fusionseqrec_samples": 40,
        "tasks.itemsearch_samples": 40,
        "tasks.preferenceobtain_samples": 40,
        "tasks.seqrec_format": "window",
        "tune.index_softmax": True,
        "tune.model": "tiny",
        "tune.max_steps": 6,
        "tune.batch_size": 4,
        "tune.eval_samples": 8,
        "tune.eval_steps": 3,
        "tune.save_steps": 3,
        "tune.logging_steps": 1,
        "tune.max_length": 128,
        "eval.max_users": 20,
        "baselines.sasrec_epochs": 3,
    },
    # ML-100K with the real offline models on a laptop CPU. 1,349 items: 3 levels of
    # 32 codes (32,768 indices) with a 3-layer MLP; 4 x 256 would leave most codes empty.
    "cpu": {
        # 64 collaborative dimensions beside the text vector (co-occurrence in the training
        # sequences): items watched together share index prefixes. With them a 150-step
        # seqrec run reached NDCG@10 .0339 on all 943 users, text-only indices .0246 after
        # 300 steps (benchmarks/results/round3.md)
        "embed.cf_dims": 64,
        "index.levels": 3,
        "index.codebook_size": 32,
        "index.layers": [512, 256, 128],
        "index.epochs": 200,
        "index.batch_size": 256,
        # the paper's six tasks; item2index and index2item hold every item of the catalogue
        # (kept whole), so one epoch aligns each item with its index in both directions.
        # seqrec as sliding windows with a target at every item, scored against the index
        # rows only; the budget is one epoch over these examples
        "tasks.tasks": ["seqrec", "item2index", "index2item", "fusionseqrec", "itemsearch", "preferenceobtain"],
        "tasks.max_history": 20,
        "tasks.seqrec_format": "window",
        "tasks.seqrec_samples": 3000,
        "tasks.item2index_samples": 0,
        "tasks.index2item_samples": 0,
        "tasks.fusionseqrec_samples": 130,
        "tasks.itemsearch_samples": 130,
        "tasks.preferenceobtain_samples": 50,
        "tune.system_prompt": False,
        "tune.index_softmax": True,
        # the levers that won at a fixed budget (benchmarks/results/levers.md): index rows
        # from their items' titles, trained alone for 10 steps, at their own rate
        "tune.index_init": "semantic",
        "tune.embed_warmup_steps": 10,
        "tune.index_lr": 5e-3,
        "tune.epochs": 1,
        "tune.lr": 1e-3,
        "tune.batch_size": 8,
        "tune.eval_samples": 100,
        "tune.eval_steps": 150,
        "tune.save_steps": 50,
        "tune.snapshot_steps": [150, 300, 450, 600],
    },
    # one Colab GPU with real Amazon data (LC-Rec's Instruments subset) and a 0.5B LLM
    "colab": {
        "data.source": "amazon2018:Musical_Instruments",
        "embed.model": "Qwen/Qwen2.5-0.5B-Instruct",
        "tune.model": "Qwen/Qwen2.5-0.5B-Instruct",
        "tasks.seqrec_format": "window",
        "tune.index_softmax": True,
        "tune.index_init": "semantic",
        "tune.embed_warmup_steps": 10,
        "tune.index_lr": 5e-3,
        "tune.batch_size": 16,
        "tune.epochs": 2,
        "tune.gradient_checkpointing": True,
    },
    # the paper's setting (LLaMA-7B on several GPUs, 4 x 256 codes, e = 32), launched with
    # `accelerate launch --config_file configs/accelerate_zero3.yaml -m lcrec_mini.core.cli tune ...`
    "paper": {
        "data.source": "amazon2018:Musical_Instruments",
        "embed.model": "huggyllama/llama-7b",
        "tune.model": "huggyllama/llama-7b",
        "tune.method": "full",
        "tune.batch_size": 8,
        "tune.epochs": 4,
        "tune.lr": 5e-5,
        "tune.max_length": 512,
        "tune.gradient_checkpointing": True,
        "tune.deepspeed": "configs/ds_zero3.json",
        # all-position windows; the index-only softmax needs the index rows outside the
        # forward, which ZeRO-3 partitions, so the paper preset keeps the full softmax
        "tasks.seqrec_format": "window",
    },
}


# -- keys and values ---------------------------------------------------------------------


def valid_keys(cfg: Config | None = None) -> list[str]:
    cfg = cfg or Config()
    keys = []
    for f in dataclasses.fields(cfg):
        if f.name in SECTIONS:
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(getattr(cfg, f.name))]
        elif f.name != "preset":  # chosen with --preset, never overridden
            keys.append(f.name)
    return sorted(keys)


def _resolve(cfg: Config, key: str) -> tuple[Any, dataclasses.Field]:
    """The object holding ``key`` and its field; an unknown key lists the valid ones."""
    parts = key.split(".")
    top = {f.name: f for f in dataclasses.fields(cfg)}
    if len(parts) == 1 and parts[0] in top and parts[0] not in SECTIONS and parts[0] != "preset":
        return cfg, top[parts[0]]
    if len(parts) == 2 and parts[0] in SECTIONS:
        sec = getattr(cfg, parts[0])
        fields = {f.name: f for f in dataclasses.fields(sec)}
        if parts[1] in fields:
            return sec, fields[parts[1]]
    raise ConfigError(unknown_key_message(key, valid_keys(cfg)))


def unknown_key_message(key: str, valid: list[str]) -> str:
    """'unknown config key ...' with the closest keys (by the whole key, and by its last part
    within the same section: ``tune.lerning_rate`` -> ``tune.lr``) and the valid keys of that
    section, wrapped (all keys when the section is unknown)."""
    import textwrap

    section, _, last = key.rpartition(".")
    same = [k for k in valid if section and k.rpartition(".")[0] == section]
    lasts = {k.rpartition(".")[2]: k for k in same}
    # near spellings of the last part first, then its abbreviation (lerning_rate -> lr)
    initials = "".join(w[0] for w in last.split("_") if w)
    strong = [lasts[m] for m in difflib.get_close_matches(last, list(lasts), n=3, cutoff=0.75)]
    abbrev = [k for k in same if len(initials) > 1 and k.rpartition(".")[2] == initials]
    weak = [lasts[m] for m in difflib.get_close_matches(last, list(lasts), n=3, cutoff=0.5)]
    close: list[str] = []
    for c in strong + abbrev + weak + difflib.get_close_matches(key, valid, n=3, cutoff=0.6):
        if c not in close:
            close.append(c)
    hint = f" Did you mean {', '.join(close[:4])}?" if close else ""
    shown = same or valid
    where = f"keys of section {section!r}" if same else "valid keys"
    listing = textwrap.fill(", ".join(shown), width=100, initial_indent="  ", subsequent_indent="  ")
    return f"unknown config key {key!r}.{hint}\n{where.capitalize()}:\n{listing}"


def _hint_types(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or a command line string) to the field type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"bad value for {key!r}: {value!r}")
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # "512,256,128" or "[512, 256]" or "" (empty list)
            text = value.strip()
            value = yaml.safe_load(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"config key {key!r} expects a list, got {value!r}")
        return [v if inner is Any else _coerce(v, inner, key) for v in value]
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"config key {key!r} expects a string, got {value!r}")
        return str(value)
    if isinstance(value, str) and tp in (int, float):
        try:  # Python's own syntax first: YAML 1.1 reads "3e-4" as a string
            return tp(value.strip())
        except ValueError:
            pass
    if isinstance(value, str) and tp is not str:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as e:  # pragma: no cover - yaml accepts nearly anything
            raise ConfigError(f"config key {key!r}: cannot parse {value!r}: {e}") from e
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r} expects true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r} expects an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"config key {key!r} expects a number, got {value!r}")
    return value


def set_key(cfg: Config, key: str, value: Any) -> None:
    obj, f = _resolve(cfg, key)
    tp = _hint_types(obj)[f.name]
    setattr(obj, f.name, _coerce(value, tp, key))


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k in SECTIONS and not prefix:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["data.source=ml-100k", ...]`` -> dict; each item must contain ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return _flatten(data)


# -- validation: every value checked when the config is built, before any stage runs ------

TASK_NAMES = TASKS  # prompts.TEMPLATES' keys: a task with templates is a task tasks.tasks accepts
DEVICES = "auto, cpu, cuda, cuda:N or mps"


def _device_ok(v: str) -> bool:
    return v in ("auto", "cpu", "cuda", "mps") or (v.startswith("cuda:") and v[5:].isdigit())


def _source_ok(v: str) -> bool:
    name, sep, arg = v.partition(":")
    return (name == "ml-100k" and not sep) or (name in ("amazon2018", "amazon2023", "lcrec") and bool(arg.strip()))


def _int_at_least(n: int) -> tuple[Any, str]:
    return (lambda v: v >= n), f"an integer >= {n}"


_POS = ((lambda v: v > 0), "a number > 0")
_NONNEG = ((lambda v: v >= 0), "a number >= 0")
_UNIT = ((lambda v: 0 <= v < 1), "a number in [0, 1)")
_DEVICE = (_device_ok, DEVICES)


def _one_of(*names: str) -> tuple[Any, str]:
    return (lambda v: v in names), "one of " + ", ".join(names)


#: key -> (check, what is allowed); a key not listed here takes any value of its type
RULES: dict[str, tuple[Any, str]] = {
    "seed": _int_at_least(0),
    "data.source": (_source_ok, "ml-100k, amazon2018:<Category>, amazon2023:<Category> or lcrec:<folder>"),
    "data.min_user_interactions": _int_at_least(1),
    "data.min_item_interactions": _int_at_least(1),
    "data.max_history": _int_at_least(1),
    "data.max_users": ((lambda v: v is None or v >= 2), "none or an integer >= 2"),
    "data.download_timeout_s": _POS,
    "embed.model": ((lambda v: bool(v.strip())), "a model name or folder (not empty)"),
    "embed.max_length": _int_at_least(8),
    "embed.batch_size": _int_at_least(1),
    "embed.device": _DEVICE,
    "index.method": _one_of("lcrec", "rqvae", "rqkmeans", "random"),
    "index.levels": _int_at_least(1),
    "index.codebook_size": _int_at_least(2),
    "index.e_dim": _int_at_least(1),
    "index.layers": ((lambda v: all(x >= 1 for x in v)), "a list of hidden sizes, each >= 1"),
    "index.dropout": _UNIT,
    "index.beta": _NONNEG,
    "index.quant_weight": _NONNEG,
    "index.lr": _POS,
    "index.weight_decay": _NONNEG,
    "index.epochs": _int_at_least(1),
    "index.batch_size": _int_at_least(1),
    "index.warmup_epochs": _int_at_least(0),
    "index.sk_epsilon": _POS,
    "index.sk_iters": _int_at_least(1),
    "index.kmeans_iters": _int_at_least(1),
    "index.fix_rounds": _int_at_least(0),
    "index.eval_every": _int_at_least(1),
    "index.device": _DEVICE,
    "tasks.tasks": ((lambda v: bool(v) and all(t in TASK_NAMES for t in v) and len(set(v)) == len(v)),
                    "a non-empty list without repeats of " + ", ".join(TASK_NAMES)),
    **{f"tasks.{t}_samples": _int_at_least(0) for t in TASK_NAMES},
    "tasks.index_passes": _int_at_least(1),
    "tasks.user_text": _one_of("template", "llm"),
    "tasks.max_text_chars": _int_at_least(1),
    "tasks.max_history": _int_at_least(0),
    "tasks.seqrec_format": _one_of("prefix", "window"),
    "tune.model": ((lambda v: bool(v.strip())), "a model name or folder (not empty)"),
    "tune.method": _one_of("lora", "full"),
    "embed.cf_dims": _int_at_least(0),
    "embed.cf_weight": _POS,
    "embed.cf_window": _int_at_least(1),
    "embed.cf_source": _one_of("cooccurrence", "sasrec"),
    "tune.num_layers": _int_at_least(0),
    "tune.lora_r": _int_at_least(1),
    "tune.lora_alpha": _POS,
    "tune.lora_dropout": _UNIT,
    "tune.lora_target_modules": ((lambda v: bool(v)), "a non-empty list of module names"),
    "tune.epochs": _int_at_least(1),
    "tune.max_steps": _int_at_least(0),
    "tune.batch_size": _int_at_least(1),
    "tune.grad_accum": _int_at_least(1),
    "tune.lr": _POS,
    "tune.weight_decay": _NONNEG,
    "tune.warmup_ratio": ((lambda v: 0 <= v <= 1), "a number in [0, 1]"),
    "tune.max_length": _int_at_least(16),
    "tune.index_init": _one_of("mean", "semantic"),
    "tune.seed": ((lambda v: v is None or v >= 0), "none or an integer >= 0"),
    "tune.precision": _one_of("auto", "bf16", "fp32"),
    "tune.index_lr": _NONNEG,
    "tune.embed_warmup_steps": _int_at_least(0),
    "tune.eval_samples": _int_at_least(1),
    "tune.eval_steps": _int_at_least(1),
    "tune.save_steps": _int_at_least(1),
    "tune.snapshot_steps": ((lambda v: all(x >= 1 for x in v)), "a list of steps, each >= 1"),
    "tune.logging_steps": _int_at_least(1),
    "tune.device": ((lambda v: v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit())),
                    "auto, cpu, cuda or cuda:N"),
    "eval.beams": _int_at_least(1),
    "eval.batch_size": _int_at_least(1),
    "eval.max_users": _int_at_least(0),
    "eval.device": _DEVICE,
    "baselines.max_len": _int_at_least(1),
    "baselines.sasrec_windows": _one_of("all", "random", "last"),
    "baselines.sasrec_init_std": _NONNEG,
    "baselines.sasrec_hidden": _int_at_least(1),
    "baselines.sasrec_layers": _int_at_least(1),
    "baselines.sasrec_heads": _int_at_least(1),
    "baselines.sasrec_dropout": _UNIT,
    "baselines.sasrec_lr": _POS,
    "baselines.sasrec_batch": _int_at_least(1),
    "baselines.sasrec_epochs": _int_at_least(1),
    "baselines.sasrec_eval_every": _int_at_least(1),
    "baselines.sasrec_patience": _int_at_least(1),
}


def _get(cfg: Config, key: str) -> Any:
    obj = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def validate(cfg: Config) -> Config:
    """Every value against its rule, then the cross-field rules that can be checked before
    any stage runs; the first violation is a one-line :class:`ConfigError` naming the key,
    the value and what is allowed."""
    for key, (ok, allowed) in RULES.items():
        v = _get(cfg, key)
        if not ok(v):
            raise ConfigError(f"{key} = {v!r}: expected {allowed}")
    t = cfg.tune
    if t.method == "full" and t.deepspeed and (t.index_lr or t.embed_warmup_steps):
        raise ConfigError(f"tune.index_lr = {t.index_lr!r} / tune.embed_warmup_steps = {t.embed_warmup_steps!r} with "
                          f"tune.method = 'full' and tune.deepspeed: ZeRO partitions the embedding rows; "
                          "expected both 0 under DeepSpeed")
    if t.max_steps and t.embed_warmup_steps >= t.max_steps:
        raise ConfigError(f"tune.embed_warmup_steps = {t.embed_warmup_steps} >= tune.max_steps = {t.max_steps}: "
                          "the warm-up would be the whole run; expected fewer warm-up steps than steps")
    b = cfg.baselines
    if b.sasrec_hidden % b.sasrec_heads:
        raise ConfigError(f"baselines.sasrec_hidden = {b.sasrec_hidden} is not a multiple of baselines.sasrec_heads = "
                          f"{b.sasrec_heads}: expected hidden divisible by heads")
    if "seqrec" not in cfg.tasks.tasks:
        raise ConfigError(f"tasks.tasks = {cfg.tasks.tasks!r}: expected a list that holds seqrec (the task evaluated)")
    i = cfg.index
    if i.levels > 26:
        raise ConfigError(f"index.levels = {i.levels}: expected at most 26 (one letter per level, <a_..> to <z_..>)")
    return cfg


def make_config(
    preset: str = "cpu",
    overrides: Mapping[str, Any] | None = None,
    yaml_file: str | Path | None = None,
    set_items: list[str] | None = None,
) -> Config:
    """Defaults, then the preset, then the YAML file, then ``overrides``, then ``--set``."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets are {', '.join(PRESETS)}")
    cfg = Config(preset=preset)
    layers: list[Mapping[str, Any]] = [PRESETS[preset]]
    if yaml_file:
        layers.append(load_yaml(yaml_file))
    if overrides:
        layers.append(_flatten(overrides))
    layers.append(parse_set(set_items))
    for layer in layers:
        for k, v in layer.items():
            set_key(cfg, k, v)
    return validate(cfg)


def config_from_dict(d: Mapping[str, Any]) -> Config:
    """Rebuild a Config from :meth:`Config.to_dict` output (a stage's config.json holds only
    the fingerprint dict of its own section, not a whole Config)."""
    d = copy.deepcopy(dict(d))
    preset = d.pop("preset", "cpu")
    cfg = Config(preset=preset)
    for k, v in _flatten(d).items():
        set_key(cfg, k, v)
    return cfg
