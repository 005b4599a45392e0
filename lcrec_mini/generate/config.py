"""The eval stage's config section (generation and metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.settings import ANY, DEVICE, IF_CHANGED, at_least, one_of, setting


@dataclass
class EvalConfig:
    """Generation and full-ranking metrics (stage and folder ``eval``)."""

    beams: int = setting(20, at_least(1))
    #: what each beam step's log-probabilities are normalised over: ``vocabulary`` (every
    #: token, as LC-Rec's generate does; the trie then keeps the allowed ones) or ``index``
    #: (the index tokens only: the softmax ``tune.index_softmax`` trains, so beams are
    #: compared on the scale the model learned)
    softmax: str = setting("vocabulary", one_of("vocabulary", "index"), fingerprint=IF_CHANGED)
    #: leave out of each user's list the items of the history the recommender is given (an
    #: input-only rule: LC-Rec's beams may not end on an item its seqrec prompt names; most
    #: popular and SASRec leave out the items of SASRec's input, ``baselines.max_len``). False
    #: ranks as LC-Rec's evaluation does, which lets a model recommend what it was just shown
    exclude_history: bool = setting(False, ANY, fingerprint=IF_CHANGED)
    batch_size: int = setting(16, at_least(1))
    #: average the metrics over every seqrec template, as the paper does (else the drawn one)
    all_templates: bool = setting(False, ANY)
    #: evaluate only the first N test users (0 = all)
    max_users: int = setting(0, at_least(0))
    device: str = setting("auto", DEVICE, fingerprint=False, help="auto | cpu | cuda")
