"""The index trie, the LogitsProcessor and the specialised beam search."""

import numpy as np
import pytest
import torch

from lcrec_mini.core.errors import DataError
from lcrec_mini.generate.decoding import IndexTrie, TrieLogitsProcessor, beam_search, contiguous_token_ids, exclusion_keys
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tune.llm import add_index_tokens, load_causal_lm

L, K = 3, 8


def catalogue(n=40, seed=0):
    rng = np.random.default_rng(seed)
    flat = rng.choice(K**L, n, replace=False)
    return np.stack([(flat // K ** (L - 1 - l)) % K for l in range(L)], 1)


def test_trie_allows_exactly_the_catalogue_continuations():
    codes = catalogue()
    trie = IndexTrie.build(codes, contiguous_token_ids(1000, L, K), K)
    first = set(codes[:, 0].tolist())
    ok0 = trie.allowed(torch.zeros(1, dtype=torch.long), 0)[0]
    assert set(torch.nonzero(ok0).flatten().tolist()) == first
    c0 = codes[0, 0]
    ok1 = trie.allowed(torch.tensor([c0]), 1)[0]
    assert set(torch.nonzero(ok1).flatten().tolist()) == set(codes[codes[:, 0] == c0, 1].tolist())
    assert trie.contains(torch.as_tensor(codes)).all()
    assert not trie.contains(torch.tensor([[K - 1, K - 1, K - 1]])).item() or (codes == K - 1).all(1).any()
    with pytest.raises(DataError, match="1 duplicated indices"):
        IndexTrie.build(np.concatenate([codes, codes[:1]]), contiguous_token_ids(1000, L, K), K)


@pytest.fixture(scope="module")
def tiny():
    tok, model = load_causal_lm("tiny", seed=3)
    ids = add_index_tokens(tok, model, index_vocabulary(L, K), seed=3)
    return tok, model, torch.tensor(ids).view(L, K)


def prompts(tok, texts):
    tok.padding_side = "left"
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)


@pytest.mark.parametrize("mode", ["trie", "level"])
def test_logits_processor_with_generate(tiny, mode):
    tok, model, tid = tiny
    codes = catalogue()
    trie = IndexTrie.build(codes, tid, K)
    enc = prompts(tok, ["Which item comes next?", "Recommend something"])
    out = model.generate(
        **enc, max_new_tokens=L, num_beams=10, num_return_sequences=10, do_sample=False,
        logits_processor=[TrieLogitsProcessor(trie, enc["input_ids"].shape[1], mode)],
        pad_token_id=tok.pad_token_id,
    )
    gen = out[:, enc["input_ids"].shape[1] :]
    level_ok = torch.stack([(gen[:, l] >= tid[l, 0]) & (gen[:, l] <= tid[l, -1]) for l in range(L)], 1).all(1)
    assert level_ok.all()
    valid = trie.contains(trie.codes_of(gen))
    if mode == "trie":
        assert valid.all()


def test_beam_search_matches_generate_with_the_trie(tiny):
    tok, model, tid = tiny
    codes = catalogue(n=60, seed=1)
    trie = IndexTrie.build(codes, tid, K)
    enc = prompts(tok, ["Which item comes next? history", "Recommend something good to watch tonight"])
    beams = 20
    res = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=beams)
    assert res.codes.shape == (2, beams, L)
    assert trie.contains(res.codes.reshape(-1, L)).all()
    out = model.generate(
        **enc, max_new_tokens=L, num_beams=beams, num_return_sequences=beams, do_sample=False,
        logits_processor=[TrieLogitsProcessor(trie, enc["input_ids"].shape[1])],
        output_scores=True, return_dict_in_generate=True, length_penalty=0.0, pad_token_id=tok.pad_token_id,
    )
    gen = trie.codes_of(out.sequences[:, enc["input_ids"].shape[1] :]).view(2, beams, L)
    ref_scores = out.sequences_scores.view(2, beams)
    for u in range(2):
        ours = {tuple(c): float(s) for c, s in zip(res.codes[u].tolist(), res.scores[u])}
        theirs = {tuple(c): float(s) for c, s in zip(gen[u].tolist(), ref_scores[u])}
        # the same beams with the same scores; an item found by one search only must be a
        # tie with the other search's last beam (equal scores at the cut), nothing else
        common = set(ours) & set(theirs)
        for c in common:
            assert ours[c] == pytest.approx(theirs[c], abs=1e-3)
        for mine, other in ((ours, theirs), (theirs, ours)):
            for c in set(mine) - common:
                assert mine[c] == pytest.approx(min(other.values()), abs=1e-3), f"{c} is not a tie at the cut"
        by_score = lambda d: sorted((c for c in common), key=lambda c: -d[c])  # noqa: E731
        assert by_score(ours)[:5] == by_score(theirs)[:5]
        assert len(common) >= beams // 2  # most beams are shared at all (ties are rare)


def test_beam_search_with_fewer_items_than_beams(tiny):
    tok, model, tid = tiny
    codes = catalogue(n=5)
    trie = IndexTrie.build(codes, tid, K)
    enc = prompts(tok, ["Which item comes next?"])
    res = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=20)
    found = {tuple(c) for c, s in zip(res.codes[0].tolist(), res.scores[0]) if torch.isfinite(s)}
    assert found == {tuple(c) for c in codes.tolist()}


def test_index_softmax_scores_each_item_against_the_index_tokens_only(tiny):
    """softmax="index": a full-catalogue search (every item a beam) gives each item
    log p(c1) + log p(c2 | c1) + log p(c3 | c1 c2), each normalised over the 24 index
    tokens alone, as tune.index_softmax trains; the whole vocabulary's normalisation
    gives other, lower scores."""
    tok, model, tid = tiny
    codes = catalogue(n=12, seed=2)
    trie = IndexTrie.build(codes, tid, K)
    enc = prompts(tok, ["Which item comes next?"])
    res = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=12, softmax="index")
    vocab = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=12)
    got = {tuple(c): float(s) for c, s in zip(res.codes[0].tolist(), res.scores[0])}
    assert set(got) == {tuple(c) for c in codes.tolist()}
    rows = tid.reshape(-1).sort().values
    for c in codes[:4].tolist():
        ids = enc["input_ids"][0].tolist()
        want = 0.0
        for level, code in enumerate(c):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            logp = torch.log_softmax(logits[rows].float(), -1)
            want += float(logp[int(torch.searchsorted(rows, tid[level, code]))])
            ids.append(int(tid[level, code]))
        assert got[tuple(c)] == pytest.approx(want, abs=1e-4)
    lower = {tuple(c): float(s) for c, s in zip(vocab.codes[0].tolist(), vocab.scores[0])}
    assert all(lower[c] < got[c] for c in got)
    with pytest.raises(ValueError, match="softmax"):
        beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=4, softmax="words")


def test_excluded_items_never_end_a_beam_and_the_rest_keep_their_scores(tiny):
    """``exclude``: the items a prompt's history names are left out of its beams (an item
    excluded for one prompt stays open to the other), and every other item keeps the score
    the unconstrained search gives it."""
    tok, model, tid = tiny
    codes = catalogue(n=12, seed=2)
    trie = IndexTrie.build(codes, tid, K)
    enc = prompts(tok, ["Which item comes next?", "Recommend something"])
    full = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=12)
    best = [tuple(full.codes[u, 0].tolist()) for u in range(2)]
    item_of = {tuple(c): i for i, c in enumerate(codes.tolist())}
    # prompt 0 may not end on its own best item nor on prompt 1's; prompt 1 on nothing (-1 pads)
    exclude = exclusion_keys(trie.prefix_keys(torch.as_tensor(codes)), [[item_of[best[0]], item_of[best[1]]], []])
    assert exclude.shape == (2, 2) and (exclude[1] == -1).all()
    res = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=12, exclude=exclude)
    got = [{tuple(c): float(s) for c, s in zip(res.codes[u].tolist(), res.scores[u]) if torch.isfinite(s)} for u in range(2)]
    want = [{tuple(c): float(s) for c, s in zip(full.codes[u].tolist(), full.scores[u])} for u in range(2)]
    assert set(got[0]) == set(want[0]) - {best[0], best[1]} and len(got[0]) == 10
    assert got[1] == pytest.approx(want[1])
    for c, s in got[0].items():
        assert s == pytest.approx(want[0][c], abs=1e-5)
