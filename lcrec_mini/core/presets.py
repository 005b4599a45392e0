"""Presets: plain data, dotted keys over the defaults of each section.

``smoke`` runs in seconds (CI); ``cpu`` is the book's main run on a laptop CPU; ``colab``
one GPU with real Amazon data; ``paper`` the paper's setting on several GPUs. What each
setting was chosen by is measured in benchmarks/results, not here.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # seconds per stage (CI): 100 ML-100K users, a tiny RQ-VAE
    "smoke": {
        "data.max_users": 100,
        "embed.max_length": 32,
        "embed.cf_dims": 8,
        "index.levels": 3,
        "index.codebook_size": 16,
        "index.e_dim": 16,
        "index.layers": [64],
        "index.epochs": 10,
        "index.batch_size": 256,
        "index.warmup_epochs": 1,
        "index.kmeans_iters": 10,
        "tasks.seqrec_samples": 200,
        "tasks.item2index_samples": 60,
        "tasks.index2item_samples": 60,
        "tasks.fusionseqrec_samples": 40,
        "tasks.itemsearch_samples": 40,
        "tasks.preferenceobtain_samples": 40,
        "tasks.seqrec_format": "window",
        "tune.index_softmax": True,
        "tune.model": "tiny",
        "tune.max_steps": 6,
        "tune.batch_size": 4,
        "tune.eval_samples": 8,
        "tune.eval_steps": 3,
        "tune.save_steps": 3,
        "tune.logging_steps": 1,
        "tune.max_length": 128,
        "eval.max_users": 20,
        "baselines.sasrec_epochs": 3,
    },
    # ML-100K with the real offline models on a laptop CPU. 1,349 items: 3 levels of
    # 32 codes (32,768 indices) with a 3-layer MLP; 4 x 256 would leave most codes empty.
    "cpu": {
        # 64 collaborative dimensions beside the text vector (co-occurrence in the training
        # sequences), so that items watched together share index prefixes
        "embed.cf_dims": 64,
        "index.levels": 3,
        "index.codebook_size": 32,
        "index.layers": [512, 256, 128],
        "index.epochs": 200,
        "index.batch_size": 256,
        # the paper's six tasks; item2index and index2item hold every item of the catalogue
        # (kept whole), so one epoch aligns each item with its index in both directions.
        # seqrec as sliding windows with a target at every item, scored against the index
        # rows only; the budget is one epoch over these examples. Histories are written
        # without ", " between indices (each index starts with its own first-level token):
        # 84 tokens a window instead of 101, so 3,600 windows cost what 3,000 did. A second
        # index2item pass in place of 500 windows cost NDCG@10 .0389 -> .0292 (one seed).
        # index2item twice with the title in every answer, 800 more windows and LoRA without
        # dropout (1,095 steps, the same minutes in bf16): NDCG@10 .0328 against .0376, and
        # the case studies' titles still unlearnt (word F1 .013 / .023 / .020 by prefix
        # length; one seed each, benchmarks/results/JOURNAL.md). The index-language rows in a
        # block of their own (tune.index_phase=first / last, with the title in every index2item
        # answer and no dropout): NDCG@10 .0286 / .0257 and title F1 under .01 (one seed each).
        # LoRA without dropout and 5,000 windows (1,001 steps in the same minutes in bf16):
        # NDCG@10 .0404 / .0293 / .0352 at training seeds 42 / 43 / 44, mean .0350; this
        # preset .0376 / .0325 / .0292, mean .0331: -.0019, SE .0049, not resolved
        # (benchmarks/compare_seeds.py). So LoRA trains without dropout (its masks were a fifth
        # of a bf16 step) and the minutes it frees read every index back as its title four
        # times per epoch, spread over the epoch (one or two readings teach no titles): NDCG@10
        # .0331 / .0331 / .0367 at seeds 42 / 43 / 44, mean .0343, against .0376 / .0325 / .0292
        # (+.0012, SE .0039, not resolved), and the title's word F1 at the full index .098 / .213
        # / .182 against .010 / .000 / .000 at the first code (paper Fig. 5a, each beyond two
        # standard errors), in 2,032-2,106 s of tuning instead of 2,186-2,228. (Every NDCG@10
        # above was ranked without eval.exclude_history; with it v3 gives .0436 / .0414 / .0471.)
        "tasks.tasks": ["seqrec", "item2index", "index2item", "fusionseqrec", "itemsearch", "preferenceobtain"],
        "tasks.seqrec_format": "window",
        "tasks.history_separator": "",
        "tasks.seqrec_samples": 3600,
        "tasks.item2index_samples": 0,
        "tasks.index2item_samples": 0,
        "tasks.fusionseqrec_samples": 130,
        "tasks.itemsearch_samples": 130,
        "tasks.preferenceobtain_samples": 50,
        "tasks.index2item_passes": 4,
        "tasks.index2item_variants": ["title"],
        "tune.system_prompt": False,
        "tune.lora_dropout": 0.0,
        "tune.index_softmax": True,
        # the index rows start from their items' title words, train alone for 10 steps,
        # then at their own rate: new rows need larger steps than LoRA's matrices
        "tune.index_init": "semantic",
        "tune.embed_warmup_steps": 10,
        "tune.index_lr": 5e-3,
        "tune.epochs": 1,
        "tune.lr": 1e-3,
        "tune.batch_size": 8,
        "tune.eval_samples": 100,
        "tune.eval_steps": 150,
        "tune.save_steps": 50,
        "tune.snapshot_steps": [150, 300, 450, 600],
        # no recommender ranks an item of the history it is given: LC-Rec's beams gave 1.8 of
        # their top 10 to items its own prompt names (the preset's model, seeds 42-44; no
        # MovieLens user rates a film twice), and the baselines leave out the same 20 items
        "eval.exclude_history": True,
    },
    # one Colab GPU with real Amazon data (LC-Rec's Instruments subset) and a 0.5B LLM
    "colab": {
        "data.source": "amazon2018:Musical_Instruments",
        "embed.model": "Qwen/Qwen2.5-0.5B-Instruct",
        # collaborative dimensions as on the cpu preset (LC-Rec's Instruments subset has
        # 9,922 items, within the co-occurrence matrix's limit)
        "embed.cf_dims": 64,
        "tune.model": "Qwen/Qwen2.5-0.5B-Instruct",
        "tasks.seqrec_format": "window",
        "tune.index_softmax": True,
        "tune.index_init": "semantic",
        "tune.embed_warmup_steps": 10,
        "tune.index_lr": 5e-3,
        "tune.batch_size": 16,
        "tune.epochs": 2,
        "tune.gradient_checkpointing": True,
    },
    # the paper's setting (LLaMA-7B on several GPUs, 4 x 256 codes, e = 32), launched with
    # `accelerate launch --config_file configs/accelerate_zero3.yaml -m lcrec_mini tune ...`
    "paper": {
        "data.source": "amazon2018:Musical_Instruments",
        "embed.model": "huggyllama/llama-7b",
        "tune.model": "huggyllama/llama-7b",
        "tune.method": "full",
        "tune.batch_size": 8,
        "tune.epochs": 4,
        "tune.lr": 5e-5,
        "tune.max_length": 512,
        "tune.gradient_checkpointing": True,
        "tune.deepspeed": "configs/ds_zero3.json",
        # all-position windows; the index-only softmax needs the index rows outside the
        # forward, which ZeRO-3 partitions, so the paper preset keeps the full softmax
        "tasks.seqrec_format": "window",
    },
}
