"""The package's shape: no import cycle among its modules, nothing imports the CLI."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "lcrec_mini"


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (at any depth of the file, lazily or not)."""
    mods = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        mods[name] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = pkg.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    target = ".".join(parts + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                cands = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                cands = [a.name for a in node.names]
            else:
                continue
            graph[m] |= {c for c in cands if c in mods and c != m}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_and_nothing_imports_the_cli():
    graph = import_graph()
    assert "lcrec_mini.core.cli" in graph and "lcrec_mini.core.stage" in graph  # the graph was read
    assert "lcrec_mini.core.config" in graph["lcrec_mini.core.stage"]
    assert cycles(graph) == []
    assert [m for m, deps in graph.items() if "lcrec_mini.core.cli" in deps] == ["lcrec_mini.__main__"]


def test_the_index_token_is_formatted_in_one_function():
    """Only tokens.code_token writes ``<x_N>``; every other module goes through it."""
    import re

    from lcrec_mini.index.tokens import code_token, index_str, index_vocabulary, parse_code_token

    writers = []
    for p in PKG.rglob("*.py"):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"f[\"'].*<\{?[^>]*\}?_\{", code) or "LEVEL_LETTERS[" in code:
                writers.append(f"{p.name}:{i}")
    assert writers == ["tokens.py:18"], writers
    assert index_str([12, 3, 7]) == "<a_12><b_3><c_7>"
    assert index_vocabulary(2, 2) == ["<a_0>", "<a_1>", "<b_0>", "<b_1>"]
    assert parse_code_token(code_token(2, 31)) == (2, 31) and parse_code_token("<a_x>") is None


def test_the_leave_one_out_split_is_written_in_one_module():
    """Only data/splits.py slices a sequence into train / valid / test; the stages, the
    explorer and the benchmarks call its functions. A new slice elsewhere fails here."""
    import re

    from lcrec_mini.data.splits import test_case, train_part, train_positions, valid_case

    pattern = re.compile(r"\b(seq|s|sequence)\[\s*:?\s*-[12]\s*\]|len\((seq|s|sequence)\)\s*-\s*2")
    root = PKG.parent
    slicers = []
    for p in list(PKG.rglob("*.py")) + list((root / "benchmarks").glob("*.py")):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if pattern.search(code):
                slicers.append(f"{p.relative_to(root)}:{i}")
    assert all(s.startswith("lcrec_mini/data/splits.py") for s in slicers), slicers
    seq = [5, 6, 7, 8, 9]
    assert train_part(seq) == [5, 6, 7] and list(train_positions(seq)) == [1, 2]
    assert valid_case(seq) == ([5, 6, 7], 8) and test_case(seq) == ([5, 6, 7, 8], 9)


def test_every_config_field_declares_its_allowed_values():
    """One place per key: each field of every section carries its allowed values
    (``core.settings.setting``), and no stage module checks a config value again."""
    import dataclasses
    import re

    from lcrec_mini.core.config import SECTIONS, Config
    from lcrec_mini.core.settings import Allowed

    cfg = Config()
    checked = 0
    for sec in [cfg] + [getattr(cfg, s) for s in sorted(SECTIONS)]:
        for f in dataclasses.fields(sec):
            assert isinstance(f.metadata.get("allowed"), Allowed), f"{type(sec).__name__}.{f.name}"
            assert f.metadata["allowed"].ok(getattr(sec, f.name)), f"{type(sec).__name__}.{f.name}: default refused"
            checked += 1
    assert checked > 90
    # the re-checks of allowed values that stage modules held before the declarations
    rechecks = re.compile(r"expected (lora or full|mean or semantic|auto, bf16 or fp32|random, last or all|"
                          r"prefix or window|template or llm)|unknown (index\.method|tasks\.user_text|tune\.method)")
    found = [f"{p.relative_to(PKG)}:{i}" for p in PKG.rglob("*.py") if p.parent.name != "core"
             for i, line in enumerate(p.read_text().splitlines(), 1) if rechecks.search(line)]
    assert found == []


def test_the_indexers_and_tasks_are_named_where_the_config_reads_them():
    import dataclasses

    from lcrec_mini.index.config import METHOD_NAMES
    from lcrec_mini.index.methods import METHODS
    from lcrec_mini.tasks.config import TasksConfig
    from lcrec_mini.tasks.registry import TASKS

    assert tuple(METHODS) == METHOD_NAMES
    samples = [f.name[: -len("_samples")] for f in dataclasses.fields(TasksConfig) if f.name.endswith("_samples")]
    assert samples == list(TASKS) == TasksConfig().tasks
