"""The common shape every data source loads into, before preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawData:
    """Interactions in file order and item metadata, as a source delivers them.

    ``interactions``: ``(user, item, timestamp)`` with raw string ids; the list order
    is the original file order, which breaks timestamp ties.
    ``items``: raw item id -> ``{"title", "description", "categories", ...}``; an
    interaction on an item missing here is dropped ("items without metadata").
    ``preprocessed``: the source is already filtered and ordered (LC-Rec's released
    files); the interactions are then taken as they are.
    """

    name: str
    interactions: list[tuple[str, str, float]]
    items: dict[str, dict[str, Any]]
    files: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    preprocessed: bool = False
    #: the item fields that carry text, in the order the embed stage reads them
    text_fields: list[str] = field(default_factory=lambda: ["title", "description"])
    #: extra files to copy into ``data/`` unchanged (name in data/ -> source path)
    extra_files: dict[str, str] = field(default_factory=dict)
