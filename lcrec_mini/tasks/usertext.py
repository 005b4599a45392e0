"""User-side text for ``itemsearch`` and ``preferenceobtain``.

The paper asks an LLM (GPT-3.5) to read a user's reviews and write (a) the user's
general preferences and (b) the intention behind one purchase. Two generators:

``template`` (offline default, deterministic): preferences from the genres or
categories, decades and brands that dominate a user's training history, with two
example titles; an intention from the target item's genres/categories, decade and
brand, never its title.

``llm``: a local instruct model (SmolLM2-Instruct offline, any Hugging Face chat model
with a network) prompted with the user's reviews where the source has them, else the
titles. Generation is greedy and cached per batch in ``<run_dir>/cache/``, so an
interrupted run loses at most one batch.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm


def item_tags(item: dict[str, Any]) -> list[str]:
    """Genres (ML-100K) or the most specific categories (Amazon) of an item."""
    if item.get("genres"):
        return list(item["genres"])
    cats = [c.strip() for c in str(item.get("categories") or "").split(",") if c.strip()]
    return cats[1:] or cats  # the first entry is the store's top category


def decade(item: dict[str, Any]) -> str:
    y = str(item.get("year") or "")
    return f"{y[:3]}0s" if len(y) == 4 and y.isdigit() else ""


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def template_preference(items: dict[str, dict], history: list[int]) -> str:
    """One or two sentences on what dominates a user's history."""
    tags = Counter(t for i in history for t in item_tags(items[str(i)]))
    decades = Counter(d for i in history if (d := decade(items[str(i)])))
    brands = Counter(b for i in history if (b := str(items[str(i)].get("brand") or "")))
    kind = "films" if any("genres" in items[str(i)] for i in history[:1]) else "items"
    top = [t for t, _ in tags.most_common(3)]
    parts = [f"The user mostly enjoys {_join(top)} {kind}" if top else f"The user has varied taste in {kind}"]
    if decades:
        parts[0] += f", especially from the {decades.most_common(1)[0][0]}"
    if brands and brands.most_common(1)[0][1] > 1:
        parts[0] += f", often by {brands.most_common(1)[0][0]}"
    recent = [items[str(i)]["title"] for i in history[-2:]]
    return parts[0] + f". Recent favourites include {_join(recent)}."


def template_query(item: dict[str, Any], salt: int = 0) -> str:
    """A request a user might type for ``item``, from its tags, decade and brand."""
    tags = item_tags(item)[:2]
    d = decade(item)
    kind = "film" if "genres" in item else "item"
    what = f"{_join([t.lower() for t in tags])} {kind}" if tags else f"good {kind}"
    a = "an" if what[:1].lower() in "aeiou" else "a"
    forms = [
        f"I'd like {a} {what}" + (f" from the {d}" if d else "") + ".",
        f"Looking for {a} {what}" + (f", ideally from the {d}" if d else "") + ".",
        f"Can you suggest {a} {what}" + (f" made in the {d}" if d else "") + "?",
    ]
    brand = str(item.get("brand") or "")
    if brand:
        forms.append(f"I need {a} {what} by {brand}.")
    return forms[salt % len(forms)]


# -- the LLM generator ----------------------------------------------------------------------


def _cache_path(run_dir: Path, model: str, kind: str, payload: list[str]) -> Path:
    h = hashlib.sha256(json.dumps([model, kind, payload]).encode()).hexdigest()[:12]
    return run_dir / "cache" / f"usertext-{kind}-{h}.json"


def llm_generate(
    prompts: list[str],
    tok,
    model,
    cache: Path,
    batch_size: int = 8,
    max_new_tokens: int = 48,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Greedy answers to chat ``prompts``, resuming from ``cache`` (a JSON list)."""
    import torch

    done: list[str] = json.loads(cache.read_text()) if cache.exists() else []
    if done:
        log(f"[tasks] resuming user-text generation: {len(done)}/{len(prompts)} cached in {cache}")
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    cache.parent.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    for s in tqdm(range(len(done), len(prompts), batch_size), desc="user text", unit="batch"):
        chats = [
            tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts[s : s + batch_size]
        ]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        done += [" ".join(t.split()) or "(no text)" for t in texts]
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(done))
        tmp.replace(cache)
    return done


def user_texts(
    method: str,
    items: dict[str, dict],
    histories: dict[int, list[int]],
    query_items: list[tuple[int, int]],
    run_dir: Path,
    model_name: str = "smollm2",
    cache_dir: str = "",
    reviews: dict[int, list[str]] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[dict[int, str], dict[tuple[int, int], str]]:
    """(preference per user, query per (user, item)) by ``template`` or ``llm``."""
    if method == "template":
        prefs = {u: template_preference(items, h) for u, h in histories.items()}
        queries = {(u, i): template_query(items[str(i)], salt=u + i) for u, i in query_items}
        return prefs, queries
    from lcrec_mini.tune.llm import load_causal_lm

    tok, model = load_causal_lm(model_name, cache_dir)
    users = sorted(histories)
    pref_prompts = []
    for u in users:
        if reviews and reviews.get(u):
            src = " | ".join(r[:200] for r in reviews[u][-5:])
            pref_prompts.append(f"Here are reviews written by a user: {src}\nIn one sentence, what does this user like?")
        else:
            titles = "; ".join(items[str(i)]["title"] for i in histories[u][-10:])
            pref_prompts.append(f"A user liked these, in order: {titles}.\nIn one sentence, what does this user like?")
    q_prompts = [
        f"An item: {items[str(i)]['title']}. {str(items[str(i)].get('description') or '')[:200]}\n"
        f"Write one short request a shopper might type to find such an item, without naming it."
        for _, i in query_items
    ]
    p_out = llm_generate(pref_prompts, tok, model, _cache_path(run_dir, model_name, "pref", pref_prompts), log=log)
    q_out = llm_generate(q_prompts, tok, model, _cache_path(run_dir, model_name, "query", q_prompts), log=log)
    return dict(zip(users, p_out)), dict(zip(query_items, q_out))
