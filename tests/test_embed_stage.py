"""The embed and index stages on the smoke preset, and their bad inputs."""

import json

import numpy as np
import pytest
import torch

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.stage import run_stage
from lcrec_mini.data.stage import run_data
from lcrec_mini.index.collisions import collision_rate
from lcrec_mini.index.embed import embed_items, load_embeddings, mean_pool, run_embed
from lcrec_mini.index.stage import load_codes, run_index


def quiet(_m):
    pass


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


class CharModel(torch.nn.Module):
    """A stand-in encoder: token t -> the vector (t, 1); mean pooling gives mean(t), 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask):
        h = torch.stack([input_ids.float(), torch.ones_like(input_ids, dtype=torch.float)], -1)
        return type("O", (), {"last_hidden_state": h})


class CharTok:
    def __call__(self, texts, padding, truncation, max_length, return_tensors):
        ids = [[len(w) for w in t.split()][:max_length] for t in texts]
        n = max(map(len, ids))
        out = {
            "input_ids": torch.tensor([i + [0] * (n - len(i)) for i in ids]),
            "attention_mask": torch.tensor([[1] * len(i) + [0] * (n - len(i)) for i in ids]),
        }
        return type("B", (dict,), {"to": lambda self, d: self})(out)


def test_fields_are_embedded_separately_and_averaged_over_present_ones():
    items = {
        "0": {"title": "ab cdef", "genres": ["xyz"]},  # title -> mean(2, 4) = 3, genres -> 3
        "1": {"title": "a", "genres": []},  # empty genres: title only -> 1
    }
    x = embed_items(items, ["title", "genres"], CharTok(), CharModel(), batch_size=1, max_length=8)
    assert x.dtype == np.float32
    assert x.tolist() == [[3.0, 1.0], [1.0, 1.0]]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("smoke")
    cfg = make_config("smoke")
    run_data(cfg, run_dir, log=quiet)
    run_embed(cfg, run_dir, log=quiet)
    run_index(cfg, run_dir, log=quiet)
    return cfg, run_dir


def test_smoke_embed_and_index_outputs(smoke_run):
    cfg, run_dir = smoke_run
    n = json.loads((run_dir / "data" / "stats.json").read_text())["items"]
    x = load_embeddings(run_dir, n)
    meta = json.loads((run_dir / "embed" / "meta.json").read_text())
    assert x.shape == (n, 384 + 8) and meta["model"] == "minilm"  # MiniLM text + the smoke preset's 8 cf dimensions
    assert meta["text_dim"] == 384 and meta["cf_dims"] == 8
    assert meta["fields"] == ["title", "year", "genres"]
    codes = load_codes(run_dir, n)
    assert codes.shape == (n, 3) and collision_rate(codes) == 0
    st = json.loads((run_dir / "index" / "stats.json").read_text())
    assert st["collision_rate_after_fixup"] == 0 and "collision_rate_before_fixup" in st
    assert len(st["per_level"]) == 3 and all(l["of"] == 16 for l in st["per_level"])
    hist = json.loads((run_dir / "index" / "history.json").read_text())
    assert len(hist) == cfg.index.epochs
    assert (run_dir / "index" / "rqvae.pt").exists()


def test_index_reruns_byte_identical(smoke_run, tmp_path):
    cfg, run_dir = smoke_run
    first = (run_dir / "index" / "codes.json").read_bytes()
    run_index(cfg, run_dir, force=True, log=quiet)
    assert (run_dir / "index" / "codes.json").read_bytes() == first


def fake_embed(run_dir, cfg, array):
    n_items = json.loads((run_dir / "data" / "stats.json").read_text())["items"]

    def build(out):
        np.save(out / "items.npy", array)
        (out / "meta.json").write_text(json.dumps({"n_items": n_items}))

    run_stage("embed", cfg, run_dir, build, ["items.npy", "meta.json"], upstream=["data"], force=True, log=quiet)


def assert_index_refused(run_dir, cfg, match):
    with pytest.raises((DataError, ConfigError), match=match):
        run_index(cfg, run_dir, log=quiet)
    assert not (run_dir / "index").exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".index")]


def test_nan_embeddings_are_refused(tmp_path):
    cfg = make_config("smoke")
    run_data(cfg, tmp_path, log=quiet)
    n = json.loads((tmp_path / "data" / "stats.json").read_text())["items"]
    x = np.ones((n, 8), dtype=np.float32)
    x[5, 2] = np.nan
    fake_embed(tmp_path, cfg, x)
    assert_index_refused(tmp_path, cfg, r"items.npy: 1 rows hold NaN or infinity \(first: row 5\)")


def test_wrong_row_count_is_refused(tmp_path):
    cfg = make_config("smoke")
    run_data(cfg, tmp_path, log=quiet)
    fake_embed(tmp_path, cfg, np.ones((3, 8), dtype=np.float32))
    assert_index_refused(tmp_path, cfg, r"items.npy: 3 rows, but the catalogue \(data/items.json\) has \d+ items")


def test_too_small_codebook_is_refused(tmp_path):
    cfg = make_config("smoke", set_items=["index.levels=2", "index.codebook_size=4"])
    run_data(cfg, tmp_path, log=quiet)
    fake_embed(tmp_path, cfg, np.ones((json.loads((tmp_path / "data" / "stats.json").read_text())["items"], 8), np.float32))
    assert_index_refused(tmp_path, cfg, r"4\^2 = 16 indices")


def test_corrupt_checkpoint_is_refused(smoke_run, tmp_path):
    cfg, run_dir = smoke_run
    bad = tmp_path / "rqvae.pt"
    bad.write_bytes(b"not a checkpoint")
    import shutil

    shutil.copytree(run_dir / "data", tmp_path / "run" / "data")
    shutil.copytree(run_dir / "embed", tmp_path / "run" / "embed")
    cfg2 = make_config("smoke", set_items=[f"index.checkpoint={bad}"])
    assert_index_refused(tmp_path / "run", cfg2, "not a valid RQ-VAE checkpoint")


def test_index_before_embed_says_what_to_run(tmp_path):
    cfg = make_config("smoke")
    run_data(cfg, tmp_path, log=quiet)
    with pytest.raises(DataError, match="lcrec-mini embed"):
        run_index(cfg, tmp_path, log=quiet)


def test_unknown_embed_field(tmp_path):
    cfg = make_config("smoke", set_items=["embed.fields=title,plot"])
    run_data(cfg, tmp_path, log=quiet)
    with pytest.raises(ConfigError, match=r"embed.fields \['plot'\] appear in no item"):
        run_embed(cfg, tmp_path, log=quiet)


def test_cooccurrence_vectors_separate_groups_and_ignore_held_out_items():
    from lcrec_mini.data.splits import train_part
    from lcrec_mini.index.embed import cooccurrence_vectors, with_cf

    # items 0-4 are watched together, items 5-9 together; items 10 and 11 only ever as a
    # user's last two (held-out) items
    seqs = [[0, 1, 2, 3, 4, 0, 2, 10, 11], [1, 3, 0, 4, 2, 10, 11], [5, 6, 7, 8, 9, 5, 7, 10, 11], [6, 8, 5, 9, 7, 10, 11]]
    cf = cooccurrence_vectors([train_part(s) for s in seqs], 12, dims=2, window=2)
    assert cf.shape == (12, 2)
    assert np.allclose(cf[10:], 0)  # nothing of the valid/test items enters
    unit = cf[:10] / np.linalg.norm(cf[:10], axis=1, keepdims=True)
    sim = unit @ unit.T
    same, other = sim[:5, :5].min(), sim[:5, 5:].max()
    assert same > other + 0.5, (same, other)
    assert np.array_equal(cf, cooccurrence_vectors([train_part(s) for s in seqs], 12, dims=2, window=2))
    x = with_cf(np.full((12, 3), 2.0, dtype=np.float32), cf, 0.5)
    assert x.shape == (12, 5)
    assert np.allclose(np.linalg.norm(x[:, :3], axis=1), 1) and np.allclose(np.linalg.norm(x[:10, 3:], axis=1), 0.5)


def test_embed_stage_appends_collaborative_dimensions(tmp_path, monkeypatch):
    import lcrec_mini.index.embed as embed_module
    from lcrec_mini.data.stage import load_dataset

    seen = {}
    real = embed_module.cooccurrence_vectors

    def spy(train_seqs, *args):
        seen["seqs"] = train_seqs
        return real(train_seqs, *args)

    monkeypatch.setattr(embed_module, "cooccurrence_vectors", spy)
    cfg = make_config("smoke", set_items=["embed.cf_dims=8", "embed.cf_weight=2"])
    run_data(cfg, tmp_path, log=quiet)
    run_embed(cfg, tmp_path, log=quiet)
    # the stage counts co-occurrence on each user's training part only (no valid/test item)
    assert seen["seqs"] == [list(s[:-2]) for s in load_dataset(tmp_path).sequences.values()]
    meta = json.loads((tmp_path / "embed" / "meta.json").read_text())
    x = load_embeddings(tmp_path)
    assert meta["cf_dims"] == 8 and x.shape[1] == meta["text_dim"] + 8 == meta["dim"]
    assert np.allclose(np.linalg.norm(x[:, : meta["text_dim"]], axis=1), 1, atol=1e-5)
    with pytest.raises(ConfigError, match="embed.cf_dims = 5000: expected fewer than"):
        run_embed(make_config("smoke", set_items=["embed.cf_dims=5000"]), tmp_path, force=True, log=quiet)


def test_collaborative_dimensions_from_a_trained_sasrec(tmp_path, monkeypatch):
    """embed.cf_source=sasrec: the cf part comes from SASRec's item table, trained on the
    training parts only; its settings enter the embed stage's fingerprint."""
    import lcrec_mini.index.embed as embed_module
    from lcrec_mini.data.stage import load_dataset

    seen = {}
    real = embed_module.train_sasrec

    def spy(train_seqs, valid, *args):
        seen["seqs"], seen["valid"] = train_seqs, valid
        return real(train_seqs, valid, *args)

    monkeypatch.setattr(embed_module, "train_sasrec", spy)
    cfg = make_config("smoke", set_items=["embed.cf_dims=8", "embed.cf_source=sasrec"])
    run_data(cfg, tmp_path, log=quiet)
    run_embed(cfg, tmp_path, log=quiet)
    seqs = list(load_dataset(tmp_path).sequences.values())
    assert seen["seqs"] == [list(s[:-2]) for s in seqs]
    assert all(t == s[-2] for (_, t), s in zip(seen["valid"], seqs))  # no test item anywhere
    meta = json.loads((tmp_path / "embed" / "meta.json").read_text())
    x = load_embeddings(tmp_path)
    assert meta["cf_source"] == "sasrec" and x.shape[1] == meta["text_dim"] + 8
    cf = x[:, meta["text_dim"]:]
    assert np.allclose(np.linalg.norm(cf, axis=1), 1, atol=1e-4) and np.linalg.matrix_rank(cf) == 8
    other = make_config("smoke", set_items=["embed.cf_dims=8", "embed.cf_source=sasrec", "baselines.sasrec_epochs=4"])
    assert other.fingerprint("embed") != cfg.fingerprint("embed")
    plain = make_config("smoke", set_items=["baselines.sasrec_epochs=4"])
    assert plain.fingerprint("embed") == make_config("smoke").fingerprint("embed")
    with pytest.raises(ConfigError, match="expected at most baselines.sasrec_hidden = 64"):
        run_embed(make_config("smoke", set_items=["embed.cf_dims=80", "embed.cf_source=sasrec"]), tmp_path,
                  force=True, log=quiet)


def test_the_dense_cooccurrence_limit_names_the_way_out_and_spares_sasrec():
    from lcrec_mini.core.errors import ConfigError
    from lcrec_mini.index.embed import CF_MAX_ITEMS, check_cf_dims

    with pytest.raises(ConfigError, match=r"embed.cf_source = sasrec .*or embed.cf_dims = 0"):
        check_cf_dims(64, CF_MAX_ITEMS + 1)
    check_cf_dims(64, CF_MAX_ITEMS + 1, "sasrec")  # SASRec's table has no such limit
    check_cf_dims(64, CF_MAX_ITEMS)
    with pytest.raises(ConfigError, match="fewer than the 64 items"):
        check_cf_dims(64, 64, "sasrec")
