"""The tasks, by name, in the order the tasks stage builds them.

Adding a task: a module in this folder with a :class:`~lcrec_mini.tasks.base.Task`
subclass (its templates, ``build`` and ``render``), one entry below (or
:func:`register` from outside), and its ``<name>_samples`` field in ``config.py``.
"""

from __future__ import annotations

from lcrec_mini.tasks.base import Task
from lcrec_mini.tasks.fusionseqrec import FusionSeqRec
from lcrec_mini.tasks.item_index import Index2Item, Item2Index
from lcrec_mini.tasks.itemsearch import ItemSearch
from lcrec_mini.tasks.preferenceobtain import PreferenceObtain
from lcrec_mini.tasks.seqrec import SeqRec

#: name -> task; the order is the build order (part of what a seed reproduces)
TASKS: dict[str, Task] = {t.name: t for t in (SeqRec(), Item2Index(), Index2Item(), FusionSeqRec(), ItemSearch(),
                                               PreferenceObtain())}


def register(task: Task) -> Task:
    """Add ``task`` after the others (``tasks.tasks`` then accepts its name)."""
    if not task.name or task.name in TASKS:
        raise ValueError(f"task name {task.name!r} is empty or taken")
    TASKS[task.name] = task
    return task


def templates(task: str, variant: str = "") -> list[str]:
    """The instruction templates of one task's variant."""
    return TASKS[task].templates[variant]
