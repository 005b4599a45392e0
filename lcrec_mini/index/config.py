"""The config sections of item indexing: the embed stage and the index stage."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.settings import (
    ANY,
    DEVICE,
    FRACTION,
    NAME,
    NON_NEGATIVE,
    POSITIVE,
    at_least,
    between,
    list_of,
    one_of,
    setting,
)

#: the indexers of ``methods.METHODS`` (named here so that building a config loads no torch)
METHOD_NAMES = ("lcrec", "rqvae", "rqkmeans", "random")


@dataclass
class EmbedConfig:
    """Item text -> vectors (stage ``embed``)."""

    #: ``minilm`` | ``smollm2`` (the LLM itself, as the paper) | a Hugging Face name or folder
    model: str = setting("minilm", NAME)
    #: item fields embedded separately, then averaged; empty = the source's own (data/stats.json)
    fields: list[str] = setting(factory=list, allowed=ANY)
    max_length: int = setting(128, at_least(8))
    #: collaborative vectors appended to the text vectors (0 = text only, as LC-Rec): the
    #: top ``cf_dims`` singular vectors of the items' co-occurrence in the training part of
    #: the sequences (nothing of the valid/test items); both parts L2-normalised per item
    cf_dims: int = setting(0, at_least(0))
    #: weight of the collaborative part against the text part (each of norm 1)
    cf_weight: float = setting(1.0, POSITIVE)
    #: two items co-occur when at most this many positions apart in a training sequence
    cf_window: int = setting(5, at_least(1))
    #: where the collaborative vectors come from: ``cooccurrence`` (the top singular vectors
    #: of the co-occurrence matrix) or ``sasrec`` (the item embeddings of a SASRec trained
    #: on the training part of the sequences, projected to ``cf_dims`` by PCA; LETTER's idea)
    cf_source: str = setting("cooccurrence", one_of("cooccurrence", "sasrec"))
    batch_size: int = setting(64, at_least(1), fingerprint=False, help="texts per forward pass")
    device: str = setting("auto", DEVICE, fingerprint=False, help="auto | cpu | cuda | mps")


@dataclass
class IndexConfig:
    """Embeddings -> unique item indices (stage ``index``). Defaults: the paper's scale."""

    #: ``lcrec`` | ``rqvae`` (no uniform semantic mapping) | ``rqkmeans`` | ``random``
    method: str = setting("lcrec", one_of(*METHOD_NAMES))
    #: at most 26: one letter per level names its tokens, <a_..> to <z_..>
    levels: int = setting(4, between(1, 26))
    codebook_size: int = setting(256, at_least(2))
    e_dim: int = setting(32, at_least(1))
    #: hidden sizes of the MLP encoder (the decoder mirrors them)
    layers: list[int] = setting(factory=lambda: [2048, 1024, 512, 256, 128, 64], allowed=list_of("hidden sizes, each >= 1", lambda x: x >= 1))
    dropout: float = setting(0.0, FRACTION)
    beta: float = setting(0.25, NON_NEGATIVE)
    quant_weight: float = setting(1.0, NON_NEGATIVE)
    lr: float = setting(1e-3, POSITIVE)
    weight_decay: float = setting(1e-4, NON_NEGATIVE)
    epochs: int = setting(500, at_least(1))
    batch_size: int = setting(1024, at_least(1))
    warmup_epochs: int = setting(10, at_least(0))
    #: Sinkhorn-Knopp at the last level: entropic regularisation and iterations
    sk_epsilon: float = setting(0.003, POSITIVE)
    sk_iters: int = setting(50, at_least(1))
    #: at most this many Lloyd iterations of the codebooks' k-means initialisation (scikit-learn)
    kmeans_iters: int = setting(50, at_least(1))
    #: rounds of Sinkhorn over colliding groups before the final deterministic step
    fix_rounds: int = setting(20, at_least(0))
    #: an ``rqvae.pt`` to index with instead of training one (methods lcrec and rqvae)
    checkpoint: str = setting("", ANY)
    eval_every: int = setting(1, at_least(1), fingerprint=False, help="epochs between collision-rate evaluations")
    device: str = setting("auto", DEVICE, fingerprint=False, help="auto | cpu | cuda | mps")

    def check_capacity(self, n_items: int) -> None:
        """K^L indices must be at least the items (the embed stage checks it as soon as the
        data stage knows the item count, before any embedding is computed)."""
        k, levels = self.codebook_size, self.levels
        if k**levels < n_items:
            raise ConfigError(
                f"index.codebook_size^index.levels = {k}^{levels} = {k**levels} indices < {n_items} items: "
                f"no unique index is possible; raise index.codebook_size or index.levels")
