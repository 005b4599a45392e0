"""The tasks stage's config section."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.settings import ANY, IF_CHANGED, Allowed, at_least, one_of, setting


def registered_tasks() -> list[str]:
    """The names in ``registry.TASKS``, in build order. Imported when a config is built, not
    when this module is: the task modules load numpy, which ``lcrec-mini --help`` does not need
    (0.09 s without it, 0.17 s with it, measured)."""
    from lcrec_mini.tasks.registry import TASKS

    return list(TASKS)


#: a registered task is a task ``tasks.tasks`` accepts; seqrec is the one evaluated
TASK_LIST = Allowed(lambda v: "seqrec" in v and all(t in registered_tasks() for t in v) and len(set(v)) == len(v),
                    lambda: "a list that holds seqrec (the task evaluated), without repeats, of "
                    + ", ".join(registered_tasks()))


#: the texts item2index and index2item pair with an index: the title, the description, or both
TEXT_VARIANTS = ("title", "description", "both")
VARIANT_LIST = Allowed(lambda v: isinstance(v, list) and bool(v) and len(set(v)) == len(v)
                       and all(x in TEXT_VARIANTS for x in v),
                       lambda: "a non-empty list, without repeats, of " + ", ".join(TEXT_VARIANTS))


@dataclass
class TasksConfig:
    """Alignment tasks as instruction examples (stage ``tasks``)."""

    #: which of seqrec, item2index, index2item, fusionseqrec, itemsearch, preferenceobtain
    tasks: list[str] = setting(factory=registered_tasks, allowed=TASK_LIST)
    #: training examples kept per task (0 = all); a random subset, seeded
    seqrec_samples: int = setting(0, at_least(0))
    item2index_samples: int = setting(0, at_least(0))
    index2item_samples: int = setting(0, at_least(0))
    fusionseqrec_samples: int = setting(10000, at_least(0))
    itemsearch_samples: int = setting(10000, at_least(0))
    preferenceobtain_samples: int = setting(0, at_least(0))
    #: rows per item in item2index and in index2item (each row draws its own text variant
    #: and template): 2 aligns every item with its index twice per epoch in each direction
    index_passes: int = setting(1, at_least(1))
    #: rows per item in index2item alone (0: ``index_passes``): reading an index back as
    #: text is what the case studies ask of the model (paper Fig. 5a)
    index2item_passes: int = setting(0, at_least(0), fingerprint=IF_CHANGED)
    #: the text variants an index2item row draws its answer from (LC-Rec: all three). On
    #: data whose descriptions are made from metadata (ML-100K's year and genres), [title,
    #: both] puts every item's title in the answers; an item without a description answers
    #: with its title whatever the list
    index2item_variants: list[str] = setting(factory=lambda: list(TEXT_VARIANTS), allowed=VARIANT_LIST,
                                             fingerprint=IF_CHANGED)
    #: user preference / intention text: ``template`` (deterministic) or ``llm``
    user_text: str = setting("template", one_of("template", "llm"))
    user_text_model: str = setting("smollm2", ANY)
    #: item text longer than this is cut at a word boundary in prompts and responses
    max_text_chars: int = setting(200, at_least(1))
    #: longest history in a prompt, in items (LC-Rec: 20)
    max_history: int = setting(20, at_least(1))
    #: what stands between two items of a history of indices (LC-Rec: ", "); "" writes the
    #: indices back to back, since each begins with its own first-level token: one token
    #: fewer per item (a history of 20 indices is 60 tokens instead of 79). Histories of
    #: titles keep ", ".
    history_separator: str = setting(", ", ANY, fingerprint=IF_CHANGED)
    #: seqrec training examples: ``prefix`` (LC-Rec: one example per next-item target, the
    #: loss on its response only) or ``window`` (sliding windows of ``max_history`` + 1
    #: items tiling each training sequence from its end; the loss is taken on the index
    #: tokens of every history item and of the response, so one example trains ~21 targets)
    seqrec_format: str = setting("prefix", one_of("prefix", "window"))

    def item_passes(self, task: str) -> int:
        """Rows per item per epoch of ``item2index`` or ``index2item``."""
        return self.index2item_passes or self.index_passes if task == "index2item" else self.index_passes
