"""Constrained decoding: time, constraint memory and invalid beams, side by side.

With the real SmolLM2 (offline wheel) on this machine, beam 20, a batch of prompts, and
catalogues of random 4-level indices (K = 256), it times in one run:
  (a) unconstrained ``generate``;
  (b) ``generate`` + a Python dict trie in ``prefix_allowed_tokens_fn`` (what peers do);
  (c) ``generate`` + our tensor-trie ``TrieLogitsProcessor``;
  (d) our fixed-length ``beam_search`` (prompt encoded once per user).
Ratios are against (a) measured in the same process.

    python benchmarks/bench_decode.py                       # 1,682 / 100,000 / 1,000,000 items
    python benchmarks/bench_decode.py --sizes 1682,100000 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.decoding import IndexTrie, TrieLogitsProcessor, beam_search  # noqa: E402
from lcrec_mini.llm import add_index_tokens, index_vocabulary, load_causal_lm  # noqa: E402

L, K = 4, 256
PROMPTS = [
    "Here are the items a user interacted with, oldest first: <a_1><b_2><c_3><d_4>, <a_5><b_6><c_7><d_8>. "
    "Which item will the user interact with next?",
    "A user's interactions, in order: <a_9><b_10><c_11><d_12>, <a_13><b_14><c_15><d_16>, "
    "<a_17><b_18><c_19><d_20>. Predict the next item they will choose.",
    "Given this interaction history: <a_21><b_22><c_23><d_24>, recommend the one item the user is most likely to pick next.",
    "The user engaged with these items one after another: <a_25><b_26><c_27><d_28>. What comes next?",
]


def random_catalogue(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flat = rng.choice(K**L, n, replace=False)
    return np.stack([(flat // K ** (L - 1 - l)) % K for l in range(L)], 1)


def dict_trie(codes: np.ndarray, tid: np.ndarray) -> dict:
    root: dict = {}
    for row in codes.tolist():
        node = root
        for l, c in enumerate(row):
            node = node.setdefault(int(tid[l, c]), {})
    return root


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1682,100000,1000000")
    ap.add_argument("--beams", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    tok, model = load_causal_lm("smollm2")
    ids = add_index_tokens(tok, model, index_vocabulary(L, K))
    tid = np.asarray(ids).reshape(L, K)
    tok.padding_side = "left"
    enc = tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    plen = enc["input_ids"].shape[1]
    beams = args.beams
    gen_kw = dict(max_new_tokens=L, num_beams=beams, num_return_sequences=beams, do_sample=False,
                  pad_token_id=tok.pad_token_id, length_penalty=0.0)
    print(f"# bench_decode: SmolLM2-135M on {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{len(PROMPTS)} prompts x beam {beams}, {L} levels x {K} codes; best of {args.repeats}")
    rows = []
    with torch.inference_mode():
        model.generate(**enc, **gen_kw)  # warm-up: the first call pays one-off allocation costs
        t_a, out_a = timed(lambda: model.generate(**enc, **gen_kw), args.repeats)
        for n in [int(s) for s in args.sizes.split(",")]:
            codes = random_catalogue(n)
            trie = IndexTrie.build(codes, torch.as_tensor(tid), K)

            def valid_rate(seqs: torch.Tensor) -> float:
                gen = seqs[:, plen:]
                if gen.shape[1] < L:
                    return 0.0
                return float(trie.contains(trie.codes_of(gen[:, :L])).float().mean())

            tracemalloc.start()
            d = dict_trie(codes, tid)
            dict_bytes = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()

            def allowed(batch_id, input_ids, d=d):
                node = d
                for t in input_ids[plen:].tolist():
                    node = node.get(t)
                    if node is None:
                        return [tok.eos_token_id]
                return list(node.keys()) or [tok.eos_token_id]

            t_b, out_b = timed(lambda: model.generate(**enc, **gen_kw, prefix_allowed_tokens_fn=allowed), args.repeats)
            proc = TrieLogitsProcessor(trie, plen)
            t_c, out_c = timed(lambda: model.generate(**enc, **gen_kw, logits_processor=[proc]), args.repeats)
            t_d, res_d = timed(lambda: beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams), args.repeats)
            d_valid = float(trie.contains(res_d.codes.reshape(-1, L)).float().mean())
            rows.append((n, "a generate", t_a, 1.0, valid_rate(out_a), 0))
            rows.append((n, "b generate + dict trie", t_b, t_b / t_a, valid_rate(out_b), dict_bytes))
            rows.append((n, "c generate + tensor trie", t_c, t_c / t_a, valid_rate(out_c), trie.nbytes()))
            rows.append((n, "d beam_search", t_d, t_d / t_a, d_valid, trie.nbytes()))
            print(f"  {n:,} items done", file=sys.stderr, flush=True)
    print(f"{'items':>10} | {'method':<26} | {'seconds':>8} | {'vs (a)':>7} | {'valid beams':>11} | {'constraint MB':>13}")
    print("-" * 90)
    for n, name, t, r, v, b in rows:
        print(f"{n:>10,} | {name:<26} | {t:>8.3f} | {r:>7.2f} | {v:>11.3f} | {b / 2**20:>13.1f}")
    by = {(n, name[0]): t for n, name, t, *_ in rows}
    for n in sorted({r[0] for r in rows}):
        print(f"{n:,} items: (c) adds {100 * (by[(n, 'c')] / by[(n, 'a')] - 1):+.1f}% to (a); (d) is {by[(n, 'b')] / by[(n, 'd')]:.1f}x faster than (b)")


if __name__ == "__main__":
    main()
