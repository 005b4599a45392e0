"""A config field declares its allowed values beside its default.

    levels: int = setting(4, at_least(1))
    method: str = setting("lcrec", one_of("lcrec", "rqvae", "rqkmeans", "random"))
    cache_dir: str = setting("", ANY_PATH, fingerprint=False, help="download cache folder")

:func:`check_section` walks a section's fields and checks each value against its own
declaration; ``core.config.make_config`` calls it once for every section, before any stage
runs. A field marked ``fingerprint=False`` (caches, devices, timeouts) does not change what
a stage produces, so changing it does not make the stage run again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from lcrec_mini.core.errors import ConfigError


@dataclass(frozen=True)
class Allowed:
    """A check on one value and the words that say what passes it (or a function that
    writes them, when they name things known only once the config is built)."""

    ok: Callable[[Any], bool]
    words: str | Callable[[], str]

    @property
    def text(self) -> str:
        return self.words if isinstance(self.words, str) else self.words()


#: ``setting(fingerprint=IF_CHANGED)``: the key counts in its stage's fingerprint only when it
#: differs from its default. For a key added after runs were made, whose default does what
#: those runs did: their fingerprints stay valid, so they are not redone for nothing.
IF_CHANGED = "if changed"


def setting(default: Any = dataclasses.MISSING, allowed: Allowed | None = None, *,
            factory: Callable[[], Any] | None = None, fingerprint: bool | str = True, help: str = "") -> Any:
    """A dataclass field with its allowed values (and, for lists, a ``factory``).
    ``fingerprint``: True (the key shapes its stage's output), False (it does not) or
    :data:`IF_CHANGED`."""
    if allowed is None:
        raise TypeError("every setting declares its allowed values")
    md = {"allowed": allowed, "fingerprint": fingerprint, "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=md)
    return dataclasses.field(default=default, metadata=md)


def at_least(n: int) -> Allowed:
    return Allowed(lambda v: v >= n, f"an integer >= {n}")


def between(lo: int, hi: int) -> Allowed:
    return Allowed(lambda v: lo <= v <= hi, f"an integer from {lo} to {hi}")


def one_of(*names: str) -> Allowed:
    return Allowed(lambda v: v in names, "one of " + ", ".join(names))


def list_of(what: str, ok: Callable[[Any], bool], non_empty: bool = False) -> Allowed:
    return Allowed(lambda v: (bool(v) or not non_empty) and all(ok(x) for x in v),
                   ("a non-empty list of " if non_empty else "a list of ") + what)


def _device_ok(v: str, names: tuple[str, ...]) -> bool:
    return v in names or (v.startswith("cuda:") and v[5:].isdigit())


POSITIVE = Allowed(lambda v: v > 0, "a number > 0")
NON_NEGATIVE = Allowed(lambda v: v >= 0, "a number >= 0")
FRACTION = Allowed(lambda v: 0 <= v < 1, "a number in [0, 1)")
SEED = Allowed(lambda v: v >= 0, "an integer >= 0")
NAME = Allowed(lambda v: bool(v.strip()), "a model name or folder (not empty)")
#: booleans and free text: every value of the field's type is allowed
ANY = Allowed(lambda v: True, "any value of its type")
DEVICE = Allowed(lambda v: _device_ok(v, ("auto", "cpu", "cuda", "mps")), "auto, cpu, cuda, cuda:N or mps")
CUDA_OR_CPU = Allowed(lambda v: _device_ok(v, ("auto", "cpu", "cuda")), "auto, cpu, cuda or cuda:N")


def check_section(name: str, section: Any, skip: Iterable[str] = ()) -> None:
    """Every field of ``section`` (but ``skip``) against its declared values; the first that
    fails is a one-line :class:`ConfigError` naming the key, the value and what is allowed."""
    for f in dataclasses.fields(section):
        if f.name in skip:
            continue
        allowed: Allowed = f.metadata["allowed"]
        v = getattr(section, f.name)
        if not allowed.ok(v):
            key = f"{name}.{f.name}" if name else f.name
            raise ConfigError(f"{key} = {v!r}: expected {allowed.text}")
