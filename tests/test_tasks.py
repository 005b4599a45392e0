"""The six alignment tasks on a small fixture: targets, leakage, templates, prompt masks."""

import json

import numpy as np
import pytest

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tasks.registry import TASKS, templates
from lcrec_mini.tasks.stage import build_examples, check_codes_match, render
from lcrec_mini.tasks.usertext import template_preference, template_query, user_texts

ITEMS = {
    str(i): {
        "title": f"Film {i}",
        "description": f"A 199{i % 10} film (Drama).",
        "genres": ["Drama", "Comedy"] if i % 2 else ["Action"],
        "year": f"199{i % 10}",
        "categories": "Drama",
    }
    for i in range(12)
}
SEQS = {"0": [0, 1, 2, 3, 4, 5, 6], "1": [7, 8, 9, 10, 11], "2": [3, 5, 7, 9, 11, 1]}
INDEX = [f"<a_{i % 3}><b_{i}>" for i in range(12)]


def tasks_cfg(*sets):
    """The cpu preset's tasks with LC-Rec's index2item (one row per item, three answer variants)."""
    return make_config("cpu", set_items=["tasks.tasks=[seqrec,item2index,index2item,fusionseqrec,itemsearch,preferenceobtain]",
                                         "tasks.seqrec_format=prefix", "tasks.max_history=10", "tasks.index2item_passes=0",
                                         "tasks.index2item_variants=[title,description,both]", *sets]).tasks


def fixture_examples(*sets, max_history=20, seed=0):
    tc = tasks_cfg(*sets)

    def ut(histories, query_items):
        return user_texts("template", ITEMS, histories, query_items, run_dir=None)

    return build_examples(ITEMS, SEQS, tc, max_history, seed, ut)


def test_every_task_is_built_with_the_right_targets():
    ex = fixture_examples()
    train = ex["train"]
    assert {e["task"] for e in train} == set(TASKS)
    for e in train:
        if e["task"] in ("seqrec", "fusionseqrec", "itemsearch"):
            seq = SEQS[str(e["user"])]
            t = len(e["history"])
            # the target is the item right after the history in the user's sequence
            assert seq[t] == e["item"] and seq[:t] == e["history"]
    # seqrec trains on every prefix of the sequence without its last two items
    seqrec = sorted((e["user"], len(e["history"])) for e in train if e["task"] == "seqrec")
    assert seqrec == sorted((int(u), t) for u, s in SEQS.items() for t in range(1, len(s) - 2))
    # item2index / index2item: every item of the catalogue once, in both directions,
    # with more than one text variant drawn across the items
    for task in ("item2index", "index2item"):
        rows = [e for e in train if e["task"] == task]
        assert sorted(e["item"] for e in rows) == list(range(12))
        assert len({e["variant"] for e in rows}) > 1
    valid = {e["user"]: e for e in ex["valid"]}
    test = {e["user"]: e for e in ex["test"] if e["task"] == "seqrec"}
    for u, s in SEQS.items():
        assert valid[int(u)]["item"] == s[-2] and valid[int(u)]["history"] == s[:-2]
        assert test[int(u)]["item"] == s[-1] and test[int(u)]["history"] == s[:-1]


def test_index_passes_repeat_every_item_with_its_own_draws():
    one = fixture_examples()["train"]
    two = fixture_examples("tasks.index_passes=2")["train"]
    for task in ("item2index", "index2item"):
        rows = [e for e in two if e["task"] == task]
        assert sorted(e["item"] for e in rows) == sorted(list(range(12)) * 2)
        # the two rows of an item draw their variant / template apart, so the repeats differ
        assert len({(e["item"], e["variant"], e["template"]) for e in rows}) > 12
    assert len(two) == len(one) + 24
    # index2item alone repeated: reading indices back as text, item2index left as it was
    three = fixture_examples("tasks.index2item_passes=3")["train"]
    assert sorted(e["item"] for e in three if e["task"] == "index2item") == sorted(list(range(12)) * 3)
    assert sorted(e["item"] for e in three if e["task"] == "item2index") == list(range(12))


def test_the_cpu_preset_aligns_every_item_in_both_directions():
    # the main run as shipped: item2index holds every item of the catalogue once per epoch,
    # with LC-Rec's three prompt variants drawn across the items; index2item reads every
    # index back four times, the title as every answer (one or two readings taught no titles)
    tc = make_config("cpu").tasks
    ex = build_examples(ITEMS, SEQS, tc, 20, 0, lambda h, q: user_texts("template", ITEMS, h, q, run_dir=None))
    ctx = TaskContext(ITEMS, INDEX)
    to_index = [e for e in ex["train"] if e["task"] == "item2index"]
    assert sorted(e["item"] for e in to_index) == list(range(12))
    assert len({e["variant"] for e in to_index}) > 1
    to_item = [e for e in ex["train"] if e["task"] == "index2item"]
    assert sorted(e["item"] for e in to_item) == sorted(list(range(12)) * 4)
    assert {e["variant"] for e in to_item} == {"title"}
    for e in to_index:
        assert INDEX[e["item"]] in render(e, ctx)[1]
    for e in to_item:
        prompt, answer = render(e, ctx)
        assert INDEX[e["item"]] in prompt and ITEMS[str(e["item"])]["title"] in answer


def test_index2item_variants_choose_the_answers_and_leave_the_other_draws_alone():
    base = fixture_examples()["train"]
    titled = fixture_examples("tasks.index2item_variants=[title,both]")["train"]
    rows = [e for e in titled if e["task"] == "index2item"]
    assert sorted(e["item"] for e in rows) == list(range(12))  # still every item once
    assert {e["variant"] for e in rows} == {"title", "both"}  # every answer holds the title
    # item2index draws as before (the key is index2item's alone)
    assert [e for e in titled if e["task"] == "item2index"] == [e for e in base if e["task"] == "item2index"]
    with pytest.raises(ConfigError, match="expected a non-empty list, without repeats, of title, description, both"):
        tasks_cfg("tasks.index2item_variants=[title,name]")
    # the default (LC-Rec's three) leaves the fingerprint of runs made before the key existed
    cfg = make_config("smoke")
    assert "index2item_variants" not in cfg.fingerprint_dict("tasks")["tasks"]
    other = make_config("smoke", set_items=["tasks.index2item_variants=[title,both]"])
    assert other.fingerprint("tasks") != cfg.fingerprint("tasks")


def test_no_valid_or_test_item_leaks_into_training():
    ex = fixture_examples()
    for e in ex["train"]:
        if "user" not in e:
            continue
        seq = SEQS[str(e["user"])]
        held_out = set(seq[-2:]) - set(seq[:-2])
        assert not held_out & set(e.get("history", [])), e
        if e["task"] in ("seqrec", "fusionseqrec", "itemsearch"):
            assert e["item"] not in held_out
        if e["task"] == "preferenceobtain":
            assert e["history"] == seq[:-2]


def test_history_cap_and_sampling():
    ex = fixture_examples("tasks.seqrec_samples=3", "tasks.fusionseqrec_samples=2", max_history=2)
    train = ex["train"]
    assert sum(e["task"] == "seqrec" for e in train) == 3
    assert sum(e["task"] == "fusionseqrec" for e in train) == 2
    assert all(len(e.get("history", [])) <= 2 for e in train)
    assert all(len(e["history"]) <= 2 for e in ex["test"])


def test_only_selected_tasks_and_unknown_task():
    ex = fixture_examples("tasks.tasks=seqrec")
    assert {e["task"] for e in ex["train"]} == {"seqrec"}
    with pytest.raises(ConfigError, match="tasks.tasks = \\['seqrec', 'seqrek'\\]: expected a list that holds seqrec"):
        fixture_examples("tasks.tasks=seqrec,seqrek")


def test_templates_are_drawn_at_random_and_render():
    ex = fixture_examples()
    ctx = TaskContext(ITEMS, INDEX)
    used = {e["template"] for e in ex["train"] if e["task"] == "seqrec"}
    assert len(used) > 1
    for e in ex["train"] + ex["test"]:
        prompt, response = render(e, ctx)
        assert "{" not in prompt and prompt and response
        if e["task"] == "seqrec":
            assert response == INDEX[e["item"]]
            assert all(INDEX[i] in prompt for i in e["history"])
        if e["task"] == "index2item" and e["variant"] == "title":
            assert response == ITEMS[str(e["item"])]["title"] and INDEX[e["item"]] in prompt
        if e["task"] == "item2index" and e["variant"] == "title":
            assert ITEMS[str(e["item"])]["title"] in prompt and response == INDEX[e["item"]]
        if e["task"] == "fusionseqrec" and e["variant"] == "title2index":
            assert f'"Film {e["history"][0]}"' in prompt and response == INDEX[e["item"]]
        if e["task"] == "preferenceobtain":
            assert response.startswith("The user mostly enjoys")
    # histories of indices joined by tasks.history_separator (LC-Rec's ", " by default)
    e = next(x for x in ex["train"] if x["task"] == "seqrec" and len(x["history"]) > 1)
    h = e["history"]
    assert INDEX[h[0]] + ", " + INDEX[h[1]] in render(e, ctx)[0]
    assert INDEX[h[0]] + INDEX[h[1]] in render(e, TaskContext(ITEMS, INDEX, separator=""))[0]
    # every template of a task can render
    e = next(x for x in ex["train"] if x["task"] == "seqrec")
    assert len({render(e, ctx, k)[0] for k in range(len(templates("seqrec")))}) == len(templates("seqrec"))


def test_template_user_text():
    pref = template_preference(ITEMS, [1, 3, 5, 2])
    assert pref.startswith("The user mostly enjoys Drama, Comedy and Action films")
    assert "Film 5 and Film 2" in pref
    q = template_query(ITEMS["4"], salt=0)
    assert q == "I'd like an action film from the 1990s." and "Film 4" not in q


def test_codes_must_match_items():
    with pytest.raises(DataError, match=r"codes.json: the codes do not match data/items.json \(2 codes, 3 items"):
        check_codes_match({"0": [], "1": []}, {"0": {}, "1": {}, "2": {}}, "codes.json")


def test_examples_are_deterministic():
    a = fixture_examples(seed=5)
    b = fixture_examples(seed=5)
    assert json.dumps(a) == json.dumps(b)


def test_window_examples_tile_the_training_part_and_nothing_else():
    from lcrec_mini.tasks.seqrec import windows

    assert windows(list(range(10)), 4) == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert windows([5], 4) == [] and windows(list(range(5)), 4) == [[1, 2, 3, 4]]  # a 1-item window has no history
    ex = fixture_examples("tasks.seqrec_format=window", "tasks.tasks=[seqrec]", "tasks.seqrec_samples=0", max_history=2)
    train = ex["train"]
    assert train and all(e["targets"] == "all" and len(e["history"]) <= 2 for e in train)
    for u, s in SEQS.items():
        mine = [e for e in train if e["user"] == int(u)]
        # consecutive items of the training part, tiling it from its end; valid/test items never appear
        flat = [i for e in mine for i in e["history"] + [e["item"]]]
        part = s[:-2]
        assert flat == part[len(part) - len(flat):] and len(part) - len(flat) <= 1
        assert s[-1] not in flat[-1:] and s[-2] not in flat[-1:]
    # the held-out splits are the same in both formats
    prefix = fixture_examples()
    assert ex["valid"] == [e for e in ex["valid"]] and [e["item"] for e in ex["valid"]] == [e["item"] for e in prefix["valid"]]
    with pytest.raises(ConfigError, match="seqrec_format"):
        fixture_examples("tasks.seqrec_format=windows")


def test_tasks_table_shows_every_task_and_which_the_run_trains(tmp_path):
    """A run that trains seqrec alone (the cpu preset) still shows the reader all six
    tasks, the five left out marked and built from the run's own data and index."""
    from lcrec_mini.book.tables import task_examples_table
    from lcrec_mini.data.stage import run_data
    from lcrec_mini.index.embed import run_embed
    from lcrec_mini.index.stage import run_index
    from lcrec_mini.tasks.registry import TASKS
    from lcrec_mini.tasks.stage import run_tasks

    cfg = make_config("smoke", set_items=["tasks.tasks=seqrec"])
    for stage in (run_data, run_embed, run_index, run_tasks):
        stage(cfg, tmp_path, log=lambda m: None)
    rows = task_examples_table(tmp_path).rows
    trained = {r["task"] for r in rows if r["in this run"] == "yes"}
    shown = {r["task"] for r in rows if r["in this run"] == "no"}
    assert trained == {"seqrec"} and shown == set(TASKS) - {"seqrec"}
    assert all(r["prompt"] and r["response"] for r in rows)
    assert rows[0]["task"] == "seqrec"  # the run's own tasks first


def test_a_new_task_is_one_object_in_the_registry():
    """Adding a task: a Task subclass (templates, build, render) registered; the config
    accepts its name and the tasks stage builds, draws templates for and renders it."""
    from lcrec_mini.tasks.base import Task, sample
    from lcrec_mini.tasks.context import TaskContext
    from lcrec_mini.tasks.registry import TASKS, register
    from lcrec_mini.tasks.stage import render

    class LastItem(Task):  # the item a user saw last in the training part -> its title
        name = "lastitem"
        templates = {"": ["Which item did {index} come after? Title only.", "Title of the item after {index}?"]}

        def build(self, d, n, rng, text, tc, planned):
            rows = [{"task": self.name, "variant": "", "user": u, "item": part[-1], "history": part[-2:-1]}
                    for u, part in d.train_part.items() if len(part) >= 2]
            return sample(rng, rows, n)

        def render(self, ex, ctx, template):
            return template.format(index=ctx.index[ex["history"][0]]), ctx.text(ex["item"], "title")

    register(LastItem())
    try:
        tc = make_config("cpu", set_items=["tasks.tasks=[seqrec,lastitem]", "tasks.max_history=10"]).tasks
        ex = build_examples(ITEMS, SEQS, tc, 20, 0, lambda h, q: ({}, {k: "q" for k in q}))
        rows = [e for e in ex["train"] if e["task"] == "lastitem"]
        assert sorted(e["user"] for e in rows) == [0, 1, 2] and all(e["template"] in (0, 1) for e in rows)
        ctx = TaskContext.from_codes(ITEMS, np.array([[i % 3, i] for i in range(12)]), 200, 12, 10)
        prompt, response = render(rows[0], ctx)
    finally:
        TASKS.pop("lastitem")
    assert ctx.index[rows[0]["history"][0]] in prompt and response == ITEMS[str(rows[0]["item"])]["title"]
    with pytest.raises(ConfigError, match="tasks.tasks"):
        make_config("cpu", set_items=["tasks.tasks=[seqrec,lastitem]"])
