"""Tuning on the smoke preset (a tiny random Llama with SmolLM2's tokenizer)."""

import json
import re
import shutil

import pytest
import torch
from transformers import TrainerCallback

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import write_json
from lcrec_mini.data.stage import run_data
from lcrec_mini.index.embed import run_embed
from lcrec_mini.index.stage import run_index
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.base import SYSTEM
from lcrec_mini.tasks.stage import run_tasks
from lcrec_mini.tune.llm import add_index_tokens, format_prompt, load_causal_lm
from lcrec_mini.tune.stage import encode_example, load_tuned, run_tune


def quiet(_m):
    pass


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tune")
    cfg = make_config("smoke")
    for stage in (run_data, run_embed, run_index, run_tasks):
        stage(cfg, run_dir, log=quiet)
    return cfg, run_dir


def test_prompt_mask_covers_exactly_the_prompt():
    tok, model = load_causal_lm("tiny")
    add_index_tokens(tok, model, index_vocabulary(3, 16))
    for system in (SYSTEM, None):
        prompt_ids = tok(format_prompt(tok, "Which item next? <a_1><b_2><c_3>", system), add_special_tokens=False)["input_ids"]
        enc = encode_example(tok, "Which item next? <a_1><b_2><c_3>", "<a_4><b_5><c_6>", 256, "<|im_end|>", system)
        n = len(prompt_ids)
        assert enc["input_ids"][:n] == prompt_ids
        assert enc["labels"][:n] == [-100] * n
        assert enc["labels"][n:] == enc["input_ids"][n:]
        assert tok.convert_ids_to_tokens(enc["labels"][n:]) == ["<a_4>", "<b_5>", "<c_6>", "<|im_end|>"]
    # without the system turn, no default system message sneaks in
    assert "system" not in format_prompt(tok, "x", None)
    # a too long example loses the start of its prompt, never its response
    long = encode_example(tok, "word " * 400, "<a_4><b_5><c_6>", 64, "<|im_end|>")
    assert len(long["input_ids"]) == 64 and long["labels"][-4:] == long["input_ids"][-4:]


def test_smoke_tune_writes_model_history_and_stats(prepared):
    cfg, run_dir = prepared
    run_tune(cfg, run_dir, log=quiet)
    out = run_dir / "tune"
    stats = json.loads((out / "train_stats.json").read_text())
    assert stats["steps"] == cfg.tune.max_steps and stats["tokens_per_second"] > 0
    assert stats["first_loss"] is not None and stats["final_eval_loss"] is not None
    history = json.loads((out / "history.json").read_text())
    assert any("eval_loss" in h for h in history) and any("loss" in h for h in history)
    assert (out / "loss.png").stat().st_size > 1000
    assert (out / "model" / "adapter_model.safetensors").exists()
    assert not (out / "model" / "training_args.bin").exists()
    modules = json.loads((out / "model" / "adapter_config.json").read_text())["target_modules"]
    assert len(modules) > 1 and modules == sorted(modules)  # the same bytes from run to run
    assert not list(run_dir.glob(".tune-work-*"))  # checkpoints removed once the stage is complete
    tok, model = load_tuned(run_dir)
    assert tok.convert_tokens_to_ids("<c_15>") < model.get_input_embeddings().weight.shape[0]


class Interrupt(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 5:
            raise KeyboardInterrupt


def test_interrupted_tune_resumes_from_its_checkpoint(prepared, tmp_path):
    cfg, src = prepared
    run_dir = tmp_path / "run"
    for d in ("data", "embed", "index", "tasks"):
        shutil.copytree(src / d, run_dir / d)
    cfg = make_config("smoke", set_items=["tune.save_steps=2", "tune.eval_steps=100", "tune.snapshot_steps=[3, 6]"])
    with pytest.raises(KeyboardInterrupt):
        run_tune(cfg, run_dir, log=quiet, callbacks=[Interrupt()])
    assert not (run_dir / "tune").exists()
    work = list(run_dir.glob(".tune-work-*"))
    assert len(work) == 1 and (work[0] / "checkpoint-4").exists()
    lines = []
    run_tune(cfg, run_dir, log=lines.append)
    assert any("resuming from" in l and "checkpoint-4" in l for l in lines)
    stats = json.loads((run_dir / "tune" / "train_stats.json").read_text())
    assert stats["resumed_from_step"] == 4 and stats["steps"] == 6
    # the snapshot taken before the interruption survives it; the one after is taken too
    snaps = run_dir / "tune" / "snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == ["step-3", "step-6"]
    assert json.loads((snaps / "step-3" / "snapshot.json").read_text())["step"] == 3
    _, m3 = load_tuned(run_dir, model_dir=snaps / "step-3")
    _, m6 = load_tuned(run_dir, model_dir=snaps / "step-6")
    _, final = load_tuned(run_dir)
    w3, w6, wf = (m.get_input_embeddings().weight for m in (m3, m6, final))
    assert torch.equal(w6, wf) and not torch.equal(w3, wf)  # step 6 is the final model; step 3 is not


def test_cut_full_tuning_trains_index_rows_only_and_reloads_cut(prepared, tmp_path):
    """tune.num_layers keeps the first layers (the saved model reloads with them); full tuning
    with tune.index_lr trains the layers and the index rows, never the word rows."""
    cfg, src = prepared
    run_dir = tmp_path / "run"
    for d in ("data", "embed", "index", "tasks"):
        shutil.copytree(src / d, run_dir / d)
    cfg = make_config("smoke", set_items=["tune.method=full", "tune.num_layers=1", "tune.index_lr=0.01",
                                          "tune.embed_warmup_steps=2", "tune.eval_steps=100"])
    run_tune(cfg, run_dir, log=quiet)
    assert json.loads((run_dir / "tune" / "tune_meta.json").read_text())["num_layers"] == 1
    tok, model = load_tuned(run_dir)
    assert len(model.model.layers) == 1 and model.config.num_hidden_layers == 1
    from lcrec_mini.tune.stage import init_index_rows

    tok0, base = load_causal_lm("tiny", seed=cfg.seed)
    n_words = base.get_input_embeddings().weight.shape[0]
    ids = init_index_rows(tok0, base, "mean", 3, 16, cfg.seed)  # the rows tuning started from
    w, w0 = model.get_input_embeddings().weight, base.get_input_embeddings().weight
    assert torch.equal(w[:n_words], w0[:n_words])  # the word rows are the pretrained ones
    assert not torch.equal(w[ids], w0[ids])  # the index rows trained
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight)
    with pytest.raises(DataError, match="tune.num_layers = 5, but the model has only 2 decoder layers"):
        from lcrec_mini.tune.llm import keep_layers

        keep_layers(base, 5)
    assert len(ids) == 48


def test_checkpoint_of_another_config_is_refused(prepared, tmp_path):
    cfg, run_dir = prepared
    ckpt = tmp_path / ".tune-work-other" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text("{}")
    (ckpt.parent / "lcrec_fingerprint.json").write_text(json.dumps({"fingerprint": "0123456789abcdef"}))
    cfg2 = make_config("smoke", set_items=[f"tune.resume_from={ckpt}"])
    with pytest.raises(DataError, match="checkpoint of another config"):
        run_tune(cfg2, run_dir, force=True, log=quiet)


def test_model_without_the_index_tokens_is_refused(prepared, tmp_path):
    cfg, src = prepared
    if not (src / "tune").exists():
        run_tune(cfg, src, log=quiet)
    run_dir = tmp_path / "run"
    for d in ("tasks", "tune"):
        shutil.copytree(src / d, run_dir / d)
    ctx = json.loads((run_dir / "tasks" / "context.json").read_text())
    ctx["index"] = [s + "<d_0>" for s in ctx["index"]]  # a 4th level: <d_*> tokens the tuned model never saw
    write_json(run_dir / "tasks" / "context.json", ctx)
    with pytest.raises(DataError, match=r"tokenizer lacks 16 index tokens \(first: <d_0>\)"):
        load_tuned(run_dir)


def test_response_only_loss_equals_the_full_loss():
    import torch

    from lcrec_mini.tune.objective import lm_loss
    from lcrec_mini.tune.stage import collate

    tok, model = load_causal_lm("tiny", seed=1)
    add_index_tokens(tok, model, index_vocabulary(3, 16))
    batch = [
        encode_example(tok, "Which item next? <a_1><b_2><c_3>", "<a_4><b_5><c_6>", 256, "<|im_end|>"),
        encode_example(tok, "What is the title of <a_0><b_1><c_2>? Answer briefly.", "Toy Story", 256, "<|im_end|>"),
    ]
    inputs = collate(tok.pad_token_id)(batch)
    assert (inputs["attention_mask"][:, -1] == 1).all()  # left padding
    with torch.no_grad():
        fast = lm_loss(model, inputs)
    # reference: the plain loss of each example alone, averaged over all response tokens
    total, count = 0.0, 0
    for b in batch:
        ids = torch.tensor([b["input_ids"]])
        labels = torch.tensor([b["labels"]])
        n = int((labels[:, 1:] != -100).sum())
        with torch.no_grad():
            total += model(input_ids=ids, labels=labels).loss.item() * n
        count += n
    assert float(fast) == pytest.approx(total / count, rel=1e-4)


def test_dequantizing_smollm2_leaves_the_global_rng_alone(tmp_path, monkeypatch):
    """The run that de-quantizes SmolLM2 (the first on a machine) must draw the same LoRA
    init as every later run: building the plain model's throwaway random init must not
    advance the global generator (it did, and two cpu runs then tuned differently)."""
    import transformers
    from transformers import LlamaConfig

    import lcrec_mini.core.models as models

    def tiny_from_gguf(*_a, **_k):  # stands in for the GGUF load: a small model, quickly
        cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=1)
        return transformers.AutoModelForCausalLM.from_config(cfg)

    tok = load_causal_lm("tiny")[0]
    monkeypatch.setattr(models, "_package_dir", lambda *_a: tmp_path)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *_a, **_k: tok)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", tiny_from_gguf)
    torch.manual_seed(7)
    want = torch.rand(8)
    torch.manual_seed(7)
    out = models.smollm2_dir(str(tmp_path / "cache"))
    assert (out / "config.json").exists()
    assert torch.equal(torch.rand(8), want)


def _tune_copy(src, dest, *sets):
    for d in ("data", "embed", "index", "tasks"):
        shutil.copytree(src / d, dest / d)
    cfg = make_config("smoke", set_items=["tune.eval_steps=100", *sets])
    run_tune(cfg, dest, log=quiet)
    return dest / "tune"


def test_the_training_seed_changes_the_adapter_and_the_same_seed_repeats_it(prepared, tmp_path):
    """tune.seed draws LoRA's matrices, the order and the templates: another value trains
    another adapter from the same data and index; the same value the same bytes."""
    _, src = prepared
    a = _tune_copy(src, tmp_path / "a", "tune.seed=1")
    b = _tune_copy(src, tmp_path / "b", "tune.seed=1")
    c = _tune_copy(src, tmp_path / "c", "tune.seed=2")
    adapter = lambda t: (t / "model" / "adapter_model.safetensors").read_bytes()  # noqa: E731
    assert adapter(a) == adapter(b)
    assert adapter(a) != adapter(c)
    meta = json.loads((c / "tune_meta.json").read_text())
    assert meta["train_seed"] == 2 and meta["seed"] == 42  # the data and index seed is untouched


def test_bf16_tuning_runs_on_the_cpu_and_its_loss_falls(prepared, tmp_path):
    _, src = prepared
    out = _tune_copy(src, tmp_path / "bf16", "tune.precision=bf16", "tune.max_steps=24", "tune.lr=0.01",
                     "tune.logging_steps=1")
    stats = json.loads((out / "train_stats.json").read_text())
    assert stats["precision"] == "bf16"
    losses = [h["loss"] for h in json.loads((out / "history.json").read_text()) if "loss" in h]
    assert len(losses) == 24 and sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    fp32 = _tune_copy(src, tmp_path / "fp32", "tune.precision=fp32", "tune.max_steps=24", "tune.lr=0.01",
                      "tune.logging_steps=1")
    losses32 = [h["loss"] for h in json.loads((fp32 / "history.json").read_text()) if "loss" in h]
    assert losses32 != losses  # the autocast really ran: bf16 rounds differently from fp32


def test_frozen_weights_held_in_bf16_give_the_products_autocast_gives():
    """FrozenBf16 casts the frozen linear weights once instead of at every step: the loss
    and LoRA's gradients are bit for bit those of plain autocast, the tied embedding stays
    in fp32, and the fp32 weights come back unchanged for evaluation."""
    from peft import LoraConfig, get_peft_model

    from lcrec_mini.tune.trainer import FrozenBf16

    tok, base = load_causal_lm("tiny", seed=3)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    model.train()
    ids = torch.randint(0, 1000, (2, 12), generator=torch.Generator().manual_seed(0))

    def loss_and_grads():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.detach().clone(), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    want_loss, want_grads = loss_and_grads()
    frozen = FrozenBf16(model)
    before = [p.detach().clone() for p in frozen.params]
    assert len(frozen.params) == 2 * 7  # the 7 projections of each of the tiny model's 2 layers
    frozen.to_bf16()
    assert all(p.dtype == torch.bfloat16 for p in frozen.params)
    assert model.get_input_embeddings().weight.dtype == torch.float32
    loss, grads = loss_and_grads()
    assert torch.equal(loss, want_loss) and all(torch.equal(a, b) for a, b in zip(grads, want_grads))
    frozen.to_fp32()
    assert all(p.dtype == torch.float32 and torch.equal(p, b) for p, b in zip(frozen.params, before))


def test_auto_precision_follows_the_cpu_flags(monkeypatch):
    from lcrec_mini.tune import trainer as tuning

    assert tuning.cpu_has_native_bf16({"avx2", "avx512_bf16"}) and tuning.cpu_has_native_bf16({"amx_bf16"})
    assert not tuning.cpu_has_native_bf16({"avx2", "avx512f"})
    monkeypatch.setattr(tuning, "cpu_flags", lambda: {"avx2", "fma"})  # AMD Zen 2/3: no native bf16
    assert tuning.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(tuning, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})  # Zen 4/5
    assert tuning.resolve_precision("auto", "cpu") == "bf16"
    assert tuning.resolve_precision("fp32", "cpu") == "fp32" and tuning.resolve_precision("bf16", "cpu") == "bf16"


def test_the_book_shows_each_task_as_the_model_reads_it(prepared):
    """notebook 04's token view: one example per (task, variant), encoded as tuning encodes
    it; the scored tokens are the response (+ end of turn), or every index token of a window."""
    from lcrec_mini.book.inputs import model_inputs

    cfg, run_dir = prepared
    shown = model_inputs(cfg, run_dir)
    examples = [json.loads(line) for line in (run_dir / "tasks" / "train.jsonl").read_text().splitlines()]
    assert [(m.task, m.variant) for m in shown] == list(dict.fromkeys((e["task"], e.get("variant", "")) for e in examples))
    assert {m.task for m in shown} == set(cfg.tasks.tasks)
    for m in shown:
        scored = [t for t, s in zip(m.tokens, m.scored) if s]
        assert 0 < len(scored) < len(m.tokens), m.task
        assert not m.scored[0]  # the prompt is never a target
        if m.task == "seqrec" and cfg.tasks.seqrec_format == "window":
            assert all(re.fullmatch(r"<[a-z]_\d+>", t) for t in scored)
            assert len(scored) > 3  # the history's items too, not only the response
        else:
            assert scored[-1] == "<|im_end|>"
            # the scored tokens are a suffix of the example: the response
            assert m.scored[-len(scored):] == [True] * len(scored)
    assert shown._repr_html_().count("<span") == 2 + sum(len(m.tokens) for m in shown)


def test_a_lora_adapter_keeps_the_index_rows_not_the_whole_vocabulary(tmp_path):
    """peft saves both embedding matrices whenever the vocabulary grew; with tied embeddings
    and the index rows trained as peft's trainable tokens the adapter holds them already.
    Saved without the matrices, the adapter reloads into a grown base model with the same
    rows. Untied, the output matrix's new rows are only in the matrix: it is kept."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors import safe_open
    from transformers import LlamaConfig, LlamaForCausalLM

    from lcrec_mini.tune.trainer import save_rows_not_vocabulary

    new = list(range(64, 72))

    def build(tied: bool):
        torch.manual_seed(0)
        base_dir = tmp_path / f"base-{tied}"
        LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=2,
                                     tie_word_embeddings=tied)).save_pretrained(base_dir)

        def grown():  # the base model with 8 new tokens, as the tune and the reload both build it
            m = LlamaForCausalLM.from_pretrained(base_dir)
            m.resize_token_embeddings(72, mean_resizing=False)
            return m

        model = get_peft_model(grown(), LoraConfig(r=2, target_modules=["q_proj"],
                                                   trainable_token_indices={"embed_tokens": new}))
        with torch.no_grad():  # "training": the new rows move
            for p in (p for n, p in model.named_parameters() if "trainable_tokens_delta" in n):
                p.add_(torch.randn_like(p))
        return model, grown

    def saved_keys(folder):
        with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
            return set(f.keys())

    model, grown = build(tied=True)
    model.save_pretrained(tmp_path / "auto")  # peft's default: the matrices go in
    save_rows_not_vocabulary(model)
    save_rows_not_vocabulary(model)  # twice is once
    model.save_pretrained(tmp_path / "rows")
    dropped = saved_keys(tmp_path / "auto") - saved_keys(tmp_path / "rows")
    assert any("embed_tokens" in k and "base_layer" in k for k in dropped)
    assert any("trainable_tokens_delta" in k for k in saved_keys(tmp_path / "rows"))
    trained = model.merge_and_unload().get_input_embeddings().weight.clone()
    torch.manual_seed(1)  # other random rows in the grown base: the adapter replaces them
    reloaded = PeftModel.from_pretrained(grown(), str(tmp_path / "rows")).merge_and_unload()
    assert torch.equal(reloaded.get_input_embeddings().weight, trained)
    assert torch.equal(reloaded.get_output_embeddings().weight, trained)  # tied

    model, _ = build(tied=False)
    save_rows_not_vocabulary(model)
    model.save_pretrained(tmp_path / "untied")
    assert any(k.endswith("lm_head.weight") for k in saved_keys(tmp_path / "untied"))


def test_index_phase_puts_the_index_language_rows_in_a_block_of_their_own(prepared, tmp_path):
    """tune.index_phase=first: every epoch starts with all its item2index / index2item rows,
    then the rest (last: the other way); each row once per epoch; mixed keeps one shuffle."""
    from lcrec_mini.tasks.stage import read_examples
    from lcrec_mini.tune.stage import INDEX_LANGUAGE, phase_blocks
    from lcrec_mini.tune.trainer import BlockSampler

    _, src = prepared
    tasks = [ex["task"] for ex in read_examples(src, "train")]
    n, lang = len(tasks), sum(t in INDEX_LANGUAGE for t in tasks)
    assert 0 < lang < n and phase_blocks(tasks, 2, "mixed") is None
    lengths = [1 + (i * 7) % 13 for i in range(2 * n)]
    for phase in ("first", "last"):
        torch.manual_seed(0)
        order = list(BlockSampler(phase_blocks(tasks, 2, phase), lengths, 4))
        assert sorted(order) == list(range(2 * n))
        for e in range(2):
            epoch = order[e * n:(e + 1) * n]
            assert all(e * n <= i < (e + 1) * n for i in epoch)
            head = epoch[:lang] if phase == "first" else epoch[n - lang:]
            assert all(tasks[i % n] in INDEX_LANGUAGE for i in head)
    assert sorted(list(BlockSampler([[5, 6, 7], [0, 1]], None, 4))[:3]) == [5, 6, 7]
    # the tuner takes the key: another order trains another adapter from the same rows
    first = _tune_copy(src, tmp_path / "first", "tune.index_phase=first")
    mixed = _tune_copy(src, tmp_path / "mixed")
    adapter = lambda t: (t / "model" / "adapter_model.safetensors").read_bytes()  # noqa: E731
    assert adapter(first) != adapter(mixed)
