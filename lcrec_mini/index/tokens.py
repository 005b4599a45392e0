"""Index tokens as text: code ``c`` at level ``l`` is the token ``<a_c>``, ``<b_c>``, ...

The one place the token format is written; everything that shows, parses or adds index
tokens goes through these functions.
"""

from __future__ import annotations

import re

LEVEL_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(r"<([a-z])_(\d+)>")


def code_token(level: int, code: int | str) -> str:
    """The token of ``code`` at ``level`` (0-based): ``code_token(1, 3) == "<b_3>"``.
    ``code`` may be a placeholder string (``"*"``, ``"N"``) for labels."""
    return f"<{LEVEL_LETTERS[level]}_{code if isinstance(code, str) else int(code)}>"


def parse_code_token(token: str) -> tuple[int, int] | None:
    """``"<b_3>"`` -> ``(1, 3)``; anything else -> None."""
    m = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    return (LEVEL_LETTERS.index(m.group(1)), int(m.group(2))) if m else None


def row_tokens(row) -> list[str]:
    """One index (or prefix) ``[c_1, ..., c_d]`` -> ``["<a_c1>", "<b_c2>", ...]``."""
    return [code_token(l, c) for l, c in enumerate(row)]


def index_str(row) -> str:
    """One index (or prefix) as the text the LLM reads, e.g. ``<a_12><b_3><c_7>``."""
    return "".join(row_tokens(row))


def index_vocabulary(levels: int, codebook_size: int) -> list[str]:
    """Every index token, level-major: ``<a_0> .. <a_{K-1}>, <b_0>, ...``."""
    return [code_token(l, k) for l in range(levels) for k in range(codebook_size)]


def split_index(text: str) -> list[str]:
    """``"<a_12><b_3>"`` -> ``["<a_12>", "<b_3>"]`` (the tokens of an index string, in order)."""
    return [m.group(0) for m in _TOKEN.finditer(text)]
