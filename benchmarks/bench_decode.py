"""Constrained decoding: time, constraint memory and invalid beams, side by side.

With the real SmolLM2 (offline wheel) on this machine, beam 20, a batch of users, and
catalogues of random 4-level indices (K = 256), it times in one run:
  (a) unconstrained ``generate``;
  (b) ``generate`` + a Python dict trie in ``prefix_allowed_tokens_fn`` (what peers do);
  (c) ``generate`` + our tensor-trie ``TrieLogitsProcessor``;
  (d) our fixed-length ``beam_search`` (prompt encoded once per user).
The prompts are ``seqrec`` prompts as the evaluate stage builds them: our templates
(chat formatted, no system turn) with histories of ``--history`` items drawn from the
catalogue being decoded. Protocol: one warm-up call of each method, then ``--repeats``
rounds; in each round the four methods run back to back in a rotated order, so slow
phases of the machine hit all of them. Reported: the median time of each method and
the median over rounds of the per-round ratios (c)/(a) and (b)/(d), which cancel most
of the drift that makes single timings on a shared 2-core machine vary by +-10%.

    python benchmarks/bench_decode.py                       # 1,682 / 100,000 / 1,000,000 items
    python benchmarks/bench_decode.py --sizes 1682,100000 --repeats 3 --users 2
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.generate.decoding import IndexTrie, TrieLogitsProcessor, beam_search  # noqa: E402
from lcrec_mini.index.tokens import index_str  # noqa: E402
from lcrec_mini.index.tokens import index_vocabulary  # noqa: E402
from lcrec_mini.tasks.seqrec import TEMPLATES as SEQREC  # noqa: E402
from lcrec_mini.tune.llm import add_index_tokens, format_prompt, load_causal_lm

L, K = 4, 256
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


def seqrec_prompts(codes: np.ndarray, users: int, history: int, seed: int = 0) -> list[str]:
    """``users`` seqrec prompts, each a history of ``history`` catalogue items."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(users):
        rows = codes[rng.choice(len(codes), history, replace=False)]
        hist = ", ".join(index_str(r) for r in rows)
        out.append(SEQREC[u % len(SEQREC)].format(history=hist))
    return out


def interleaved(fns: dict[str, object], repeats: int) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Warm each method once, then ``repeats`` rounds in rotated order; per-round times."""
    names = list(fns)
    outs = {n: fns[n]() for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[: r % len(names)]:
            t = time.perf_counter()
            outs[n] = fns[n]()
            times[n].append(time.perf_counter() - t)
    return times, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1682,100000,1000000")
    ap.add_argument("--beams", type=int, default=20)
    ap.add_argument("--users", type=int, default=4, help="prompts decoded together (one batch)")
    ap.add_argument("--history", type=int, default=10, help="items per prompt history (the cpu preset's max_history)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    tok, model = load_causal_lm("smollm2")
    ids = add_index_tokens(tok, model, index_vocabulary(L, K))
    tid = np.asarray(ids).reshape(L, K)
    tok.padding_side = "left"
    beams = args.beams
    gen_kw = dict(max_new_tokens=L, num_beams=beams, num_return_sequences=beams, do_sample=False,
                  pad_token_id=tok.pad_token_id, length_penalty=0.0)
    print(f"# bench_decode: SmolLM2-135M on {cpu_line()}, torch {torch.__version__}, "
          f"{args.users} users x beam {beams}, seqrec prompts with {args.history}-item histories, "
          f"{L} levels x {K} codes; median of {args.repeats} interleaved rounds")
    rows, summary = [], []
    with torch.inference_mode():
        for n in [int(s) for s in args.sizes.split(",")]:
            codes = random_catalogue(n)
            trie = IndexTrie.build(codes, torch.as_tensor(tid), K)
            texts = [format_prompt(tok, p, None) for p in seqrec_prompts(codes, args.users, args.history)]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            plen = enc["input_ids"].shape[1]

            def valid_rate(seqs: torch.Tensor) -> float:
                gen = seqs[:, plen:]
                if gen.shape[1] < L:
                    return 0.0
                return float(trie.contains(trie.codes_of(gen[:, :L])).float().mean())

            tracemalloc.start()
            d = dict_trie(codes, tid)
            dict_bytes = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()

            def allowed(batch_id, input_ids, d=d, plen=plen):
                node = d
                for t in input_ids[plen:].tolist():
                    node = node.get(t)
                    if node is None:
                        return [tok.eos_token_id]
                return list(node.keys()) or [tok.eos_token_id]

            proc = TrieLogitsProcessor(trie, plen)
            fns = {
                "a": lambda: model.generate(**enc, **gen_kw),
                "b": lambda: model.generate(**enc, **gen_kw, prefix_allowed_tokens_fn=allowed),
                "c": lambda: model.generate(**enc, **gen_kw, logits_processor=[proc]),
                "d": lambda: beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams),
            }
            times, outs = interleaved(fns, args.repeats)
            med = {m: float(np.median(t)) for m, t in times.items()}
            c_over_a = float(np.median(np.array(times["c"]) / np.array(times["a"])))
            b_over_d = float(np.median(np.array(times["b"]) / np.array(times["d"])))
            d_valid = float(trie.contains(outs["d"].codes.reshape(-1, L)).float().mean())
            rows.append((n, plen, "a generate", med["a"], 1.0, valid_rate(outs["a"]), 0))
            rows.append((n, plen, "b generate + dict trie", med["b"], med["b"] / med["a"], valid_rate(outs["b"]), dict_bytes))
            rows.append((n, plen, "c generate + tensor trie", med["c"], med["c"] / med["a"], valid_rate(outs["c"]), trie.nbytes()))
            rows.append((n, plen, "d beam_search", med["d"], med["d"] / med["a"], d_valid, trie.nbytes()))
            spread = {m: (min(t), max(t)) for m, t in times.items()}
            summary.append((n, c_over_a, b_over_d, spread))
            print(f"  {n:,} items done", file=sys.stderr, flush=True)
    print(f"{'items':>10} | {'prompt':>6} | {'method':<26} | {'median s':>8} | {'vs (a)':>7} | {'valid beams':>11} | {'constraint MB':>13}")
    print("-" * 101)
    for n, plen, name, t, r, v, b in rows:
        print(f"{n:>10,} | {plen:>6} | {name:<26} | {t:>8.3f} | {r:>7.2f} | {v:>11.3f} | {b / 2**20:>13.1f}")
    print()
    for n, ca, bd, spread in summary:
        rng = ", ".join(f"{m} {lo:.2f}-{hi:.2f}s" for m, (lo, hi) in spread.items())
        print(f"{n:,} items: (c) adds {100 * (ca - 1):+.1f}% to (a); (d) is {bd:.1f}x faster than (b) "
              f"(medians of per-round ratios; ranges {rng})")


if __name__ == "__main__":
    main()
