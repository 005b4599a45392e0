"""One training example of every task as the model reads it: its tokens, and which of
them the loss scores.

The examples come from the run's ``tasks/train.jsonl`` and go through the tuning
stage's own dataset (:func:`lcrec_mini.tune.stage.task_datasets`): the same template
draw, chat template, index tokens and labels as the first pass of training. Only the
tokenizer is loaded, not the model.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from lcrec_mini.core.config import Config
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.base import SYSTEM
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tasks.stage import read_examples
from lcrec_mini.tune.llm import add_index_vocabulary, end_of_response, load_tokenizer
from lcrec_mini.tune.stage import task_datasets

#: what a scored token and a prompt token look like on the page
_SCORED = "background:#d8ecff;border:1px solid #3b82c4;font-weight:600"
_PROMPT = "background:#f3f3f3;border:1px solid #ddd;color:#555"


@dataclass
class ModelInput:
    """One encoded example: its tokens as text and whether each is a target of the loss
    (its label is not -100)."""

    task: str
    variant: str
    tokens: list[str]
    scored: list[bool]

    @property
    def n_scored(self) -> int:
        return sum(self.scored)

    def text(self) -> str:
        """The tokens joined by ``|``, the scored ones in square brackets."""
        return "|".join(f"[{t}]" if s else t for t, s in zip(self.tokens, self.scored))

    def html(self) -> str:
        chips = []
        for t, s in zip(self.tokens, self.scored):
            shown = html.escape(t.replace("\n", "\u21b5"))
            chips.append(
                f'<span style="display:inline-block;white-space:pre;margin:1px;padding:0 2px;'
                f'font-family:monospace;font-size:12px;{_SCORED if s else _PROMPT}">{shown}</span>'
            )
        name = self.task + (f" ({self.variant})" if self.variant else "")
        return (
            f"<p><b>{html.escape(name)}</b>: {len(self.tokens)} tokens, {self.n_scored} scored</p>"
            f'<div style="line-height:1.9">{"".join(chips)}</div>'
        )


class ModelInputs(list):
    """A list of :class:`ModelInput` that Jupyter shows as token chips (scored ones blue)."""

    def _repr_html_(self) -> str:
        legend = (
            f'<p><span style="padding:0 4px;{_SCORED}">scored</span> tokens are targets of the loss '
            f'(their label is the token); <span style="padding:0 4px;{_PROMPT}">grey</span> ones '
            f"have label -100 and only condition the prediction. \u21b5 is a line break.</p>"
        )
        return legend + "".join(m.html() for m in self)

    def __repr__(self) -> str:
        return "\n\n".join(f"{m.task} {m.variant}: {m.text()}" for m in self)


def training_set(cfg: Config, run_dir: str | Path):
    """(the run's training examples, the tuning stage's dataset over them, the tokenizer
    with the index tokens): ``dataset[i]`` is example i encoded as the first pass of
    training encodes it."""
    run_dir = Path(run_dir)
    ctx = TaskContext.load(run_dir)
    train_ex = read_examples(run_dir, "train")
    tok = load_tokenizer(cfg.tune.model, cfg.data.cache_dir)
    token_ids = add_index_vocabulary(tok, index_vocabulary(ctx.levels, ctx.codebook_size))
    system = SYSTEM if cfg.tune.system_prompt else None
    train, _ = task_datasets(cfg, train_ex, read_examples(run_dir, "valid"), ctx, ctx.codes(), tok, token_ids,
                             end_of_response(tok), system)
    return train_ex, train, tok


def model_inputs(cfg: Config, run_dir: str | Path) -> ModelInputs:
    """The first training example of every (task, variant) of the run, encoded as the
    first pass of the tuning stage encodes it."""
    train_ex, train, tok = training_set(cfg, run_dir)
    seen, out = set(), ModelInputs()
    for i, ex in enumerate(train_ex):
        key = (ex["task"], ex.get("variant", ""))
        if key in seen:
            continue
        seen.add(key)
        enc = train[i]
        tokens = [tok.decode([t]) for t in enc["input_ids"]]
        out.append(ModelInput(key[0], key[1], tokens, [y != -100 for y in enc["labels"]]))
    return out
