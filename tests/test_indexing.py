"""RQ-VAE, Sinkhorn, the collision fix-up, the other indexers and the index stage."""


import numpy as np
import pytest
import torch

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.index.collisions import collision_groups, collision_rate, level_stats
from lcrec_mini.index.fixup import final_fixup, sinkhorn_fixup
from lcrec_mini.index.rqvae import RQVAE, kmeans, load_rqvae, residual_codes, sinkhorn
from lcrec_mini.index.stage import build_index, code_tokens, parse_tokens


def clustered(n=400, d=24, clusters=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (clusters, d))
    labels = np.arange(n) % clusters
    return (centers[labels] + rng.normal(0, 0.3, (n, d))).astype(np.float32), labels


def small_cfg(*sets):
    return make_config(
        "smoke",
        set_items=[
            "index.levels=3", "index.codebook_size=8", "index.layers=32", "index.e_dim=8",
            "index.epochs=15", "index.batch_size=128", "index.warmup_epochs=2", *sets,
        ],
    ).index


# -- Sinkhorn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(50, 8), (7, 16), (64, 64)])
def test_sinkhorn_plan_has_the_uniform_marginals(shape):
    b, k = shape
    cost = torch.rand(b, k, generator=torch.Generator().manual_seed(b * k)) * 5
    p = sinkhorn(cost, epsilon=0.05, iters=500)
    assert p.dtype == torch.float64 and (p >= 0).all()
    assert torch.allclose(p.sum(1), torch.full((b,), 1 / b, dtype=torch.float64), atol=1e-6, rtol=0)
    assert torch.allclose(p.sum(0), torch.full((k,), 1 / k, dtype=torch.float64), atol=1e-6, rtol=0)


def test_sinkhorn_balances_where_argmin_collapses():
    # every row prefers code 0 a little: argmin puts all 16 rows there, Sinkhorn spreads them
    cost = torch.zeros(16, 4)
    cost[:, 1:] = 0.1
    cost += torch.rand(16, 4, generator=torch.Generator().manual_seed(0)) * 0.01
    assert set(cost.argmin(1).tolist()) == {0}
    counts = torch.bincount(sinkhorn(cost, 0.003, 100).argmax(1), minlength=4)
    # argmax of a soft plan is nearly, not exactly, balanced
    assert (counts >= 3).all() and counts.max() <= 5


def test_small_epsilon_does_not_overflow():
    cost = torch.rand(32, 8, generator=torch.Generator().manual_seed(1)) * 1e4
    p = sinkhorn(cost, epsilon=1e-4, iters=50)
    assert torch.isfinite(p).all()


# -- collision fix-up -------------------------------------------------------------------------


def toy_codebooks():
    # 2 levels x 4 codes in 2-D: level 1 picks a quadrant, level 2 a small offset
    l1 = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [-5.0, -5.0], [5.0, -5.0]])
    l2 = torch.tensor([[0.5, 0.0], [0.0, 0.5], [-0.5, 0.0], [0.0, -0.5]])
    return [l1, l2]


def test_planted_collision_is_resolved_to_the_nearest_free_code():
    cbs = toy_codebooks()
    z = torch.tensor([[5.5, 5.0], [5.4, 5.1], [-5.0, 5.5]])  # items 0 and 1 both -> (0, 0)
    codes = residual_codes(z, cbs)
    assert codes.tolist() == [[0, 0], [0, 0], [1, 1]]
    assert collision_rate(codes) == pytest.approx(1 / 3)
    fixed, moved = final_fixup(z, cbs, codes, k=4)
    assert collision_rate(fixed) == 0
    assert fixed[0].tolist() == [0, 0]  # item 0 is nearer to <b_0>: it keeps the index
    assert fixed[1].tolist() == [0, 1]  # item 1 (residual (0.4, 0.1)) -> next nearest free: <b_1>
    assert fixed[2].tolist() == [1, 1]
    assert moved == {"moved_in_prefix": 1, "moved_to_other_prefix": 0}


def test_full_prefix_moves_to_the_nearest_other_prefix():
    cbs = toy_codebooks()
    # five items in quadrant 0: only four last-level codes exist under prefix <a_0>
    z = torch.tensor([[5.5, 5.0], [5.0, 5.5], [4.5, 5.0], [5.0, 4.5], [5.1, 0.2]])
    codes = np.array([[0, 0], [0, 1], [0, 2], [0, 3], [0, 3]])
    fixed, moved = final_fixup(z, cbs, codes, k=4)
    assert len(np.unique(fixed, axis=0)) == 5
    assert fixed[3].tolist() == [0, 3]  # nearer to <a_0><b_3> than item 4
    assert fixed[4][0] == 3  # (5.1, 0.2) is nearest to quadrant 3 after quadrant 0
    assert moved == {"moved_in_prefix": 0, "moved_to_other_prefix": 1}


def test_identical_items_get_distinct_indices():
    x = np.repeat(np.random.default_rng(0).normal(size=(1, 16)).astype(np.float32), 5, axis=0)
    x = np.concatenate([x, np.random.default_rng(1).normal(size=(40, 16)).astype(np.float32)])
    codes, stats, _, _ = build_index(x, small_cfg(), seed=0, log=lambda m: None)
    assert collision_rate(codes) == 0 and stats["collision_rate_after_fixup"] == 0
    assert stats["items_colliding_before_fixup"] >= 5


def test_sinkhorn_fixup_spreads_a_group():
    cbs = toy_codebooks()
    # four distinct items, all nearest to (0, 0); their residuals lean different ways
    z = torch.tensor([[5.6, 5.0], [5.5, 5.2], [5.3, 5.0], [5.5, 4.8]])
    codes = residual_codes(z, cbs)
    assert collision_rate(codes) == 0.75
    new, moved, rounds = sinkhorn_fixup(z, cbs, codes, epsilon=0.003, iters=50, rounds=20)
    assert collision_rate(new) < 0.75
    assert moved >= 2 and rounds >= 1


def test_collision_groups_and_level_stats():
    codes = np.array([[0, 1], [0, 1], [1, 0], [0, 1], [1, 1]])
    assert [g.tolist() for g in collision_groups(codes)] == [[0, 1, 3]]
    st = level_stats(codes, k=4)
    assert st[0]["used"] == 2 and st[0]["of"] == 4
    p = np.array([3, 2]) / 5
    assert st[0]["entropy_bits"] == pytest.approx(-(p * np.log2(p)).sum(), abs=1e-4)
    assert st[0]["perplexity"] == pytest.approx(2 ** st[0]["entropy_bits"], abs=0.01)


def test_tokens_round_trip_and_bad_tokens():
    codes = np.array([[12, 3, 200, 7], [0, 0, 0, 1]])
    toks = code_tokens(codes)
    assert toks["0"] == ["<a_12>", "<b_3>", "<c_200>", "<d_7>"]
    assert (parse_tokens(toks) == codes).all()
    with pytest.raises(DataError, match=r"key '1': token '<a_0>' at level 2"):
        parse_tokens({"0": ["<a_1>", "<b_1>"], "1": ["<a_0>", "<a_0>"]})


# -- indexers ---------------------------------------------------------------------------------


def test_random_indexer_is_unique_in_range_and_seeded():
    x = np.zeros((300, 4), dtype=np.float32)
    cfg = small_cfg("index.method=random")
    a, st, hist, model = build_index(x, cfg, seed=1, log=lambda m: None)
    b, *_ = build_index(x, cfg, seed=1, log=lambda m: None)
    c, *_ = build_index(x, cfg, seed=2, log=lambda m: None)
    assert a.shape == (300, 3) and a.min() >= 0 and a.max() < 8
    assert collision_rate(a) == 0 and st["collision_rate_before_fixup"] == 0
    assert (a == b).all() and not (a == c).all()
    assert model is None and hist == []


def test_rqkmeans_follows_the_clusters_and_is_unique():
    x, labels = clustered()
    codes, st, hist, model = build_index(x, small_cfg("index.method=rqkmeans"), seed=0, log=lambda m: None)
    assert collision_rate(codes) == 0 and model is None and hist == []
    # each of the 8 well separated clusters maps to a single first-level code
    for c in range(8):
        assert len(set(codes[labels == c, 0].tolist())) == 1
    assert len(set(codes[:, 0].tolist())) == 8


def test_kmeans_finds_separated_centers():
    x, labels = clustered(n=200, clusters=4)
    c = kmeans(torch.as_tensor(x), 4, 50, torch.Generator().manual_seed(0))
    assign = torch.cdist(torch.as_tensor(x), c).argmin(1).numpy()
    for k in range(4):
        assert len(set(assign[labels == k].tolist())) == 1


def test_kmeans_is_seeded_by_the_generator_and_fills_spare_centroids():
    x, _ = clustered(n=200, clusters=4)
    xt = torch.as_tensor(x)
    a = kmeans(xt, 6, 50, torch.Generator().manual_seed(1))
    b = kmeans(xt, 6, 50, torch.Generator().manual_seed(1))
    c = kmeans(xt, 6, 50, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    few = kmeans(xt[:3], 5, 10, torch.Generator().manual_seed(0))
    assert few.shape == (5, x.shape[1]) and few.dtype == torch.float32
    # every centroid is one of the three points: three fitted, two spare copies
    assert all(min(float((row - p).norm()) for p in xt[:3]) < 1e-5 for row in few)


def test_lcrec_index_is_unique_deterministic_and_logs_history():
    x, _ = clustered(n=300)
    cfg = small_cfg()
    a, st, hist, model = build_index(x, cfg, seed=3, log=lambda m: None)
    b, *_ = build_index(x, cfg, seed=3, log=lambda m: None)
    assert (a == b).all()
    assert collision_rate(a) == 0
    assert len(hist) == cfg.epochs and {"loss", "recon", "quant", "collision_rate", "used"} <= set(hist[-1])
    assert st["per_level"][0]["used"] >= 4
    assert isinstance(model, RQVAE)


@pytest.mark.parametrize("seed", range(3))
def test_uniform_mapping_spreads_the_last_level_in_training(seed):
    """LC-Rec's uniform semantic mapping acts in the training forward pass, before any
    fix-up: when one last-level code is nearest to every residual of a batch, the plain
    RQ-VAE sends the whole batch to it, while the Sinkhorn assignment spreads the batch
    over all codes, about B/K each."""
    torch.manual_seed(seed)
    m = RQVAE(in_dim=8, layers=[16], e_dim=4, levels=2, codebook_size=8)
    with torch.no_grad():
        m.codebooks[1].data = torch.randn(8, 4) * 3  # last-level codes far apart
        m.codebooks[1].data[0] = 0.0  # one code at the centre, the nearest for every residual
        x = torch.randn(64, 8)
        uniform = torch.bincount(m(x, use_sk=True).codes[:, -1], minlength=8)
        nearest = torch.bincount(m(x, use_sk=False).codes[:, -1], minlength=8)
    assert nearest[0] >= 60
    assert (uniform > 0).all() and uniform.max() <= 64 // 8 + 4, uniform.tolist()


def test_codebook_too_small_is_an_error():
    x = np.zeros((600, 4), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"8\^3 = 512 indices < 600 items"):
        build_index(x, small_cfg(), seed=0, log=lambda m: None)


def test_checkpoint_round_trip_and_corrupt_checkpoint(tmp_path):
    from lcrec_mini.index.rqvae import save_rqvae

    x, _ = clustered(n=200)
    cfg = small_cfg()
    codes, _, _, model = build_index(x, cfg, seed=0, log=lambda m: None)
    path = tmp_path / "rqvae.pt"
    save_rqvae(model, path)
    again, st, _, _ = build_index(x, small_cfg(f"index.checkpoint={path}"), seed=0, log=lambda m: None)
    assert (again == codes).all() and st["epochs"] == 0
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"rqvae.pt: not a valid RQ-VAE checkpoint"):
        load_rqvae(path)
    with pytest.raises(DataError, match="checkpoint not found"):
        load_rqvae(tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="levels is 3 there, 2 here"):
        save_rqvae(model, path)
        build_index(x, small_cfg(f"index.checkpoint={path}", "index.levels=2", "index.codebook_size=16"), seed=0, log=lambda m: None)
