"""LC-Rec's released dataset folders, loaded as they are.

A folder ``<dir>/<Name>/`` holds ``<Name>.inter.json`` (``{"uid": [iid, ...]}``,
chronological), ``<Name>.item.json`` (``{"iid": {"title", "description", "brand",
"categories"}}``) and, optionally, ``<Name>.index.json`` (``{"iid": ["<a_1>", ...]}``)
and ``<Name>.user.json`` (LLM-written user preferences and intentions). The optional
files are copied into ``data/`` as ``lcrec_codes.json`` and ``lcrec_users.json``.
"""

from __future__ import annotations

from pathlib import Path

from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import read_json
from lcrec_mini.data.raw import RawData


def find_prefix(folder: Path) -> Path:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; lcrec:<folder> expects LC-Rec's dataset folder")
    inters = sorted(folder.glob("*.inter.json"))
    if len(inters) != 1:
        found = ", ".join(p.name for p in inters) or "none"
        raise DataError(f"{folder}: expected exactly one <Name>.inter.json, found {found}")
    return folder / inters[0].name[: -len(".inter.json")]


def load_lcrec(folder: str) -> RawData:
    prefix = find_prefix(Path(folder).expanduser())
    inter_path = Path(f"{prefix}.inter.json")
    item_path = Path(f"{prefix}.item.json")
    inter = read_json(inter_path)
    items = read_json(item_path)
    if not isinstance(inter, dict):
        raise DataError(f"{inter_path}: expected an object {{user_id: [item_id, ...]}}")
    if not isinstance(items, dict):
        raise DataError(f"{item_path}: expected an object {{item_id: {{title, description, ...}}}}")
    meta: dict[str, dict] = {}
    for iid, rec in items.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("title"), str) or not rec["title"].strip():
            raise DataError(f"{item_path} key {iid!r}: item has no title; expected {{\"title\": \"...\", ...}}")
        meta[str(iid)] = {
            "title": rec["title"],
            "description": rec.get("description") or "",
            "categories": rec.get("categories") or "",
            "brand": rec.get("brand") or "",
        }
    rows: list[tuple[str, str, float]] = []
    for uid, seq in inter.items():
        if not isinstance(seq, list):
            raise DataError(f"{inter_path} key {uid!r}: expected a list of item ids, got {type(seq).__name__}")
        if not seq:
            raise DataError(f"{inter_path} key {uid!r}: user has no interactions; expected at least 3 (leave-one-out)")
        for t, iid in enumerate(seq):
            if str(iid) not in meta:
                raise DataError(f"{inter_path} key {uid!r}: item {iid!r} is not in {item_path.name}")
            rows.append((str(uid), str(iid), float(t)))
    extra = {}
    for suffix, name in ((".index.json", "lcrec_codes.json"), (".user.json", "lcrec_users.json")):
        p = Path(f"{prefix}{suffix}")
        if p.exists():
            extra[name] = str(p)
    return RawData(
        name=f"lcrec:{prefix.name}",
        interactions=rows,
        items=meta,
        files=[str(inter_path), str(item_path), *extra.values()],
        preprocessed=True,
        extra_files=extra,
    )
