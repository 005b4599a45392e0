"""Configuration: one section per stage, presets, and overrides.

A config is a tree of dataclasses: one section per stage, each declared in its chapter's
folder (``data/config.py``, ``index/config.py``, ...) with every field's allowed values
beside its default (``core/settings.py``), plus the global ``seed``. A preset
(``core/presets.py``) is plain data: a dict of dotted keys (``{"data.max_users": 200}``)
applied on top of the defaults. Overrides come, in this order, from a YAML file, from
``--set key=value`` on the command line, or from a notebook's ``parameters`` cell (a dict
of the same dotted keys). Every key is checked: an unknown key is an error that lists the
valid ones; every value is checked against its field's declaration when the config is
built, before any stage runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from lcrec_mini.baselines.config import BaselinesConfig
from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.presets import PRESETS
from lcrec_mini.core.settings import ANY, IF_CHANGED, SEED, check_section, setting
from lcrec_mini.data.config import DataConfig
from lcrec_mini.generate.config import EvalConfig
from lcrec_mini.index.config import EmbedConfig, IndexConfig
from lcrec_mini.tasks.config import TasksConfig
from lcrec_mini.tune.config import TuneConfig


@dataclass
class Config:
    """The whole pipeline's configuration."""

    preset: str = setting("cpu", ANY)
    seed: int = setting(42, SEED)
    data: DataConfig = setting(factory=DataConfig, allowed=ANY)
    embed: EmbedConfig = setting(factory=EmbedConfig, allowed=ANY)
    index: IndexConfig = setting(factory=IndexConfig, allowed=ANY)
    tasks: TasksConfig = setting(factory=TasksConfig, allowed=ANY)
    tune: TuneConfig = setting(factory=TuneConfig, allowed=ANY)
    eval: EvalConfig = setting(factory=EvalConfig, allowed=ANY)
    baselines: BaselinesConfig = setting(factory=BaselinesConfig, allowed=ANY)

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
            if f.metadata.get("fingerprint", True) is True
            or (f.metadata.get("fingerprint") == IF_CHANGED and getattr(sec, f.name) != _default(f))
        }
        if section == "embed" and self.embed.cf_dims and self.embed.cf_source == "sasrec":
            # the embed stage then trains the baselines' SASRec: its settings shape the output
            out["sasrec"] = dataclasses.asdict(self.baselines)
        if section == "baselines" and self.eval.exclude_history:
            # the baselines then leave out each user's history as LC-Rec's beams do
            out["exclude_history"] = True
        return {"seed": self.seed, section: out}

    def fingerprint(self, section: str) -> str:
        blob = json.dumps(self.fingerprint_dict(section), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _default(f: dataclasses.Field) -> Any:
    """A field's default value, from its factory where it has one."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


SECTIONS = {
    f.name
    for f in dataclasses.fields(Config)
    if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory)
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


def validate(cfg: Config) -> Config:
    """Every field against its declared values, section by section, then the rules that
    tie two fields of a section together (each section's ``check``); the first violation
    is a one-line :class:`ConfigError` naming the key, the value and what is allowed."""
    check_section("", cfg, skip=SECTIONS)
    for name in sorted(SECTIONS):
        sec = cfg.section(name)
        check_section(name, sec)
        if hasattr(sec, "check"):
            sec.check()
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
