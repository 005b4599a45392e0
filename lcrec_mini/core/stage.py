"""Running a stage: skip when up to date, write atomically, never leave partial output.

A stage writes into a fresh temporary folder beside its final one
(``run_dir/.data.tmp-<pid>``); only when everything is written, ``config.json``
last, is the folder renamed into place. A stage that fails, or is interrupted,
leaves its previous output (if any) untouched and no partial folder behind.

``<stage>/config.json`` records the stage's config section, the seed, the
fingerprints of the stages it read, and the package version; it holds no time
stamps, so a stage run twice with the same inputs writes byte-identical files.
Wall times go to ``run_dir/log.jsonl`` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from lcrec_mini import __version__
from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import DataError


def write_json(path: str | Path, obj: Any, indent: int | None = 1) -> None:
    """Deterministic JSON (UTF-8, keys in insertion order, trailing newline)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def write_json_rows(path: str | Path, obj: dict[str, Any]) -> None:
    """A JSON object written one key per line: LC-Rec's layout, readable in a diff."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        last = len(obj) - 1
        for n, (k, v) in enumerate(obj.items()):
            sep = "," if n < last else ""
            f.write(f"{json.dumps(str(k))}: {json.dumps(v, ensure_ascii=False)}{sep}\n")
        f.write("}\n")


def write_timing(out_dir: str | Path, seconds: float) -> None:
    """A stage's wall time, in ``timing.json`` beside its results: kept out of
    ``metrics.json`` so that two runs of one seed write byte-identical metrics."""
    write_json(Path(out_dir) / "timing.json", {"wall_seconds": round(seconds, 1)})


def stage_seconds(out_dir: str | Path) -> float | None:
    """The wall time a stage recorded in ``timing.json``, or None when it has none."""
    path = Path(out_dir) / "timing.json"
    return float(read_json(path)["wall_seconds"]) if path.exists() else None


def logged_seconds(run_dir: str | Path, stage: str) -> float | None:
    """The wall time ``run_dir/log.jsonl`` holds for the stage's current output (the last
    line of that stage with the fingerprint in ``<stage>/config.json``; a resumed tune: the
    resumed part), or None when the log has none."""
    run_dir = Path(run_dir)
    meta, log = run_dir / stage / "config.json", run_dir / "log.jsonl"
    if not meta.exists() or not log.exists():
        return None
    fp = read_json(meta).get("fingerprint")
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    hits = [r["seconds"] for r in rows if r.get("stage") == stage and r.get("fingerprint") == fp]
    return float(hits[-1]) if hits else None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path} line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None


@dataclass
class StageResult:
    name: str
    out_dir: Path
    skipped: bool
    fingerprint: str
    seconds: float


#: the stages each stage reads (its fingerprint includes theirs); one table for every runner
UPSTREAM: dict[str, tuple[str, ...]] = {
    "data": (),
    "embed": ("data",),
    "index": ("embed",),
    "tasks": ("data", "index"),
    "tune": ("tasks",),
    "eval": ("tasks", "tune"),
    "baselines": ("data",),
}


def stage_fingerprint(cfg: Config, section: str, upstream: dict[str, str]) -> str:
    blob = json.dumps(
        {"own": cfg.fingerprint(section), "upstream": upstream}, sort_keys=True
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def read_stage_config(out_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def missing_stages(run_dir: Path, stage: str) -> list[str]:
    """``stage`` and every stage it needs, transitively, that ``run_dir`` lacks, in pipeline order."""
    order = list(UPSTREAM)
    seen: set[str] = set()

    def walk(s: str) -> None:
        if s in seen:
            return
        seen.add(s)
        for u in UPSTREAM.get(s, ()):
            walk(u)

    walk(stage)
    return [s for s in order if s in seen and read_stage_config(Path(run_dir) / s) is None]


def upstream_fingerprint(run_dir: Path, stage: str, preset: str | None = None, needed_by: str | None = None) -> str:
    """The fingerprint of an earlier stage's output; if it is missing, an error naming the
    one command that builds it and every stage ``needed_by`` lacks (or ``stage`` needs)."""
    meta = read_stage_config(Path(run_dir) / stage)
    if meta is None:
        missing = ([s for s in missing_stages(run_dir, needed_by) if s != needed_by] if needed_by
                   else missing_stages(run_dir, stage))
        p = f" --preset {preset}" if preset else ""
        if missing == [stage]:
            fix = f"`lcrec-mini {stage}{p} --run-dir {run_dir}`"
        else:
            fix = (f"`lcrec-mini run{p} --run-dir {run_dir}` (every stage in order; the run folder lacks "
                   f"{', '.join(missing)})")
        raise DataError(f"{Path(run_dir) / stage / 'config.json'}: stage {stage!r} has not been run in this "
                        f"run folder; run {fix} first")
    return meta["fingerprint"]


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as a folder this process can write to (created if missing), or a one-line
    error naming it: a file of that name, or a folder (or the nearest existing parent)
    without write permission."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(f"run folder {run_dir}: a file of that name exists; expected a folder (or no such path)")
    parent = run_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        what = "the run folder" if parent == run_dir else f"its parent {parent}"
        raise DataError(f"run folder {run_dir}: {what} is not writable by this user; expected a folder you can write to")
    return run_dir


class RunFolderBusy(DataError):
    """Another process writes to the run folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


_held: set[Path] = set()  # run folders this process has locked


@contextlib.contextmanager
def run_lock(run_dir: str | Path, log: Callable[[str], None] | None = None):
    """Hold ``run_dir/.lock`` (this process's PID) while the block writes to the run folder.

    A second writer is refused with one line naming the holder's PID; a lock left by a
    process that no longer exists is taken over. Nested use in one process (``run`` chains
    the stages, each locks too) holds it once. Under several processes (``accelerate
    launch``), only rank 0 takes it: the other ranks write into the stage it runs.
    """
    run_dir = check_run_dir(run_dir).resolve()
    if int(os.environ.get("RANK", "0")) != 0 or run_dir in _held:
        yield
        return
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / ".lock"
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _pid_alive(holder):
                raise RunFolderBusy(
                    f"run folder {run_dir} is in use by process {holder} (its .lock); wait for it to end "
                    f"(`tail --pid={holder} -f /dev/null`) or use another --run-dir") from None
            (log or (lambda m: print(m, file=sys.stderr)))(
                f"[lock] {lock}: process {holder} no longer runs; taking over its lock")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        break
    _held.add(run_dir)
    try:
        yield
    finally:
        _held.discard(run_dir)
        lock.unlink(missing_ok=True)
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a command that wrote nothing leaves no folder behind


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``tmp`` folder; the old one is removed only after."""
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old.exists():
        shutil.rmtree(old)


def _append_log(run_dir: Path, name: str, fp: str, seconds: float) -> None:
    """One line per finished stage in ``run_dir/log.jsonl``."""
    row = {"stage": name, "fingerprint": fp, "seconds": round(seconds, 3),
           "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": __version__}
    with open(run_dir / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def run_stage(
    name: str,
    cfg: Config,
    run_dir: str | Path,
    build: Callable[[Path], None],
    outputs: Iterable[str],
    upstream: Iterable[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    main_process: bool = True,
    shared_tmp: bool = False,
) -> StageResult:
    """Run ``build(tmp_dir)`` unless ``run_dir/name`` is up to date, then swap it in.

    ``outputs`` are the file names ``build`` must write; a missing one is a bug and
    fails the stage before anything is moved into place. Under several processes
    (``shared_tmp``), all of them build into one temporary folder and only the main
    process checks, records and moves it into place. The main process holds the run
    folder's lock (:func:`run_lock`) meanwhile.
    """
    if not main_process:
        return _run_stage(name, cfg, run_dir, build, outputs, upstream, force, log, main_process, shared_tmp)
    with run_lock(run_dir, log):
        return _run_stage(name, cfg, run_dir, build, outputs, upstream, force, log, main_process, shared_tmp)


def _run_stage(name, cfg, run_dir, build, outputs, upstream, force, log, main_process, shared_tmp) -> StageResult:
    log = log or (lambda msg: print(msg, file=sys.stderr))
    run_dir = Path(run_dir)
    out_dir = run_dir / name
    upstream = UPSTREAM.get(name, ()) if upstream is None else upstream
    ups = {u: upstream_fingerprint(run_dir, u, cfg.preset, needed_by=name) for u in upstream}
    run_dir.mkdir(parents=True, exist_ok=True)
    fp = stage_fingerprint(cfg, name, ups)
    outputs = list(outputs)

    meta = read_stage_config(out_dir)
    if (
        not force
        and meta is not None
        and meta.get("fingerprint") == fp
        and all((out_dir / o).exists() for o in outputs)
    ):
        log(f"[{name}] up to date in {out_dir} (fingerprint {fp}); skipped. Use --force to rerun.")
        return StageResult(name, out_dir, True, fp, 0.0)

    tmp = run_dir / (f".{name}.tmp-shared" if shared_tmp else f".{name}.tmp-{os.getpid()}")
    if main_process and tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(exist_ok=shared_tmp)
    t0 = time.perf_counter()
    if not main_process:
        build(tmp)
        return StageResult(name, out_dir, False, fp, time.perf_counter() - t0)
    try:
        build(tmp)
        missing = [o for o in outputs if not (tmp / o).exists()]
        if missing:
            raise RuntimeError(f"stage {name!r} did not write {missing}")
        stage_meta = {
            "stage": name,
            "fingerprint": fp,
            "lcrec_mini_version": __version__,
            "preset": cfg.preset,
            "config": cfg.fingerprint_dict(name),
            "upstream": ups,
        }
        write_json(tmp / "config.json", stage_meta)
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    _append_log(run_dir, name, fp, seconds)
    log(f"[{name}] wrote {out_dir} in {seconds:.1f} s")
    return StageResult(name, out_dir, False, fp, seconds)


# -- the stages' registry (below the CLI: the CLI, the study and the notebooks use it) ----

#: stage name -> (module, runner), in pipeline order; `run` chains them. Modules are
#: imported only when their stage runs, so `lcrec-mini data` never loads torch models.
STAGE_RUNNERS: dict[str, tuple[str, str]] = {
    "data": ("lcrec_mini.data.stage", "run_data"),
    "embed": ("lcrec_mini.index.embed", "run_embed"),
    "index": ("lcrec_mini.index.stage", "run_index"),
    "tasks": ("lcrec_mini.tasks.stage", "run_tasks"),
    "tune": ("lcrec_mini.tune.stage", "run_tune"),
    "eval": ("lcrec_mini.generate.stage", "run_evaluate"),
    "baselines": ("lcrec_mini.baselines.stage", "run_baselines"),
}


def run_named_stage(name: str, cfg: Config, run_dir: Path, force: bool, log: Callable[[str], None] | None = None):
    """Run (or skip, when up to date) one stage; returns its ``StageResult``. ``log``
    receives the stage's messages (default: the runner's own, printed)."""
    if name not in STAGE_RUNNERS:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_RUNNERS)}")
    module, func = STAGE_RUNNERS[name]
    runner = getattr(importlib.import_module(module), func)
    return runner(cfg, run_dir, force=force) if log is None else runner(cfg, run_dir, force=force, log=log)


STAGES = list(STAGE_RUNNERS)
