import pytest

from lcrec_mini.core.config import make_config, valid_keys
from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.presets import PRESETS


def test_presets_are_plain_data_and_all_four_exist():
    assert set(PRESETS) == {"smoke", "cpu", "colab", "paper"}
    for name, layer in PRESETS.items():
        assert isinstance(layer, dict)
        cfg = make_config(name)
        assert cfg.preset == name
    assert make_config("smoke").data.max_users == 100
    assert make_config("colab").data.source.startswith("amazon2018:")


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="smoke, cpu, colab, paper"):
        make_config("laptop")


def test_set_coerces_to_the_field_type():
    cfg = make_config("cpu", set_items=["data.max_users=50", "seed=7", "data.download_timeout_s=3"])
    assert cfg.data.max_users == 50 and cfg.seed == 7 and cfg.data.download_timeout_s == 3.0
    cfg = make_config("smoke", set_items=["data.max_users=none"])
    assert cfg.data.max_users is None
    cfg = make_config("cpu", set_items=["data.source=amazon2018:Video_Games"])
    assert cfg.data.source == "amazon2018:Video_Games"


def test_bad_value_names_the_key_and_the_expected_type():
    with pytest.raises(ConfigError, match=r"'data.min_user_interactions' expects an integer, got 'five'"):
        make_config("cpu", set_items=["data.min_user_interactions=five"])
    with pytest.raises(ConfigError, match="key=value"):
        make_config("cpu", set_items=["data.max_users"])


def test_unknown_key_is_an_error_listing_valid_keys_and_a_suggestion():
    with pytest.raises(ConfigError) as e:
        make_config("cpu", set_items=["data.max_user=3"])
    msg = str(e.value)
    assert "Did you mean data.max_users" in msg
    listing = msg.split("\n", 1)[1]
    for key in valid_keys():  # the keys of the section named, wrapped
        assert (key in listing) == key.startswith("data.")
    msg = str(pytest.raises(ConfigError, make_config, "cpu", set_items=["dat.max_users=3"]).value)
    for key in valid_keys():  # an unknown section: every key
        assert key in msg
    with pytest.raises(ConfigError, match="unknown config key 'preset'"):
        make_config("cpu", overrides={"preset": "smoke"})
    with pytest.raises(ConfigError, match="unknown config key 'data'"):
        make_config("cpu", overrides={"data": 3})


def test_yaml_file_nested_or_dotted_and_notebook_overrides(tmp_path):
    f = tmp_path / "o.yaml"
    f.write_text("seed: 3\ndata:\n  max_users: 20\n")
    cfg = make_config("cpu", yaml_file=f)
    assert cfg.seed == 3 and cfg.data.max_users == 20
    # notebook parameters come after the YAML file; --set comes last
    cfg = make_config("cpu", yaml_file=f, overrides={"data.max_users": 30}, set_items=["seed=4"])
    assert cfg.data.max_users == 30 and cfg.seed == 4
    f.write_text("data:\n  bogus: 1\n")
    with pytest.raises(ConfigError, match="unknown config key 'data.bogus'"):
        make_config("cpu", yaml_file=f)


def test_bad_yaml_names_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("seed: 1\ndata: [\n  oops\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+"):
        make_config("cpu", yaml_file=f)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        make_config("cpu", yaml_file=f)


def test_fingerprint_ignores_caches_but_not_filters():
    base = make_config("cpu")
    cached = make_config("cpu", set_items=["data.cache_dir=/elsewhere", "data.download_timeout_s=5"])
    assert base.fingerprint("data") == cached.fingerprint("data")
    assert base.fingerprint("data") != make_config("cpu", set_items=["data.max_users=5"]).fingerprint("data")
    assert base.fingerprint("data") != make_config("cpu", set_items=["seed=1"]).fingerprint("data")


def test_a_key_added_later_counts_in_the_fingerprint_only_when_changed():
    # tasks.history_separator came after runs were made with its default (", "): those
    # runs keep their fingerprints, and another separator is another tasks stage
    base = make_config("smoke")
    assert base.tasks.history_separator == ", " and "history_separator" not in base.fingerprint_dict("tasks")["tasks"]
    assert base.fingerprint("tasks") == make_config("smoke", set_items=["tasks.history_separator=, "]).fingerprint("tasks")
    other = make_config("smoke", set_items=["tasks.history_separator="])
    assert other.tasks.history_separator == "" and other.fingerprint("tasks") != base.fingerprint("tasks")
    assert make_config("cpu").fingerprint_dict("tasks")["tasks"]["history_separator"] == ""  # the cpu preset sets it


BAD_VALUES = [
    ("tasks.max_history=0", "tasks.max_history = 0: expected an integer >= 1"),
    ("eval.beams=0", "eval.beams = 0: expected an integer >= 1"),
    ("index.method=lcrc", "index.method = 'lcrc': expected one of lcrec, rqvae, rqkmeans, random"),
    ("index.levels=0", "index.levels = 0: expected an integer from 1 to 26"),
    ("index.codebook_size=1", "index.codebook_size = 1: expected an integer >= 2"),
    ("tune.lr=0", "tune.lr = 0.0: expected a number > 0"),
    ("tune.method=qlora", "tune.method = 'qlora': expected one of lora, full"),
    ("data.source=amazon2018", "data.source = 'amazon2018': expected ml-100k, amazon2018:<Category>"),
    ("data.source=movielens", "data.source = 'movielens': expected ml-100k"),
    ("tasks.tasks=[seqrec,seqrec]", "tasks.tasks = ['seqrec', 'seqrec']: expected a list that holds seqrec (the task evaluated), without repeats"),
    ("tasks.tasks=[item2index]", "expected a list that holds seqrec"),
    ("tasks.seqrec_format=windows", "tasks.seqrec_format = 'windows': expected one of prefix, window"),
    ("tune.lora_dropout=1.5", "tune.lora_dropout = 1.5: expected a number in [0, 1)"),
    ("tune.warmup_ratio=-0.1", "tune.warmup_ratio = -0.1: expected a number in [0, 1]"),
    ("eval.device=gpu", "eval.device = 'gpu': expected auto, cpu, cuda, cuda:N or mps"),
    ("baselines.sasrec_windows=first", "baselines.sasrec_windows = 'first': expected one of all, random, last"),
    ("baselines.sasrec_heads=3", "baselines.sasrec_hidden = 64 is not a multiple of baselines.sasrec_heads = 3"),
    ("tune.max_steps=5", "tune.embed_warmup_steps = 10 >= tune.max_steps = 5"),
    ("tune.snapshot_steps=[0]", "tune.snapshot_steps = [0]: expected a list of steps, each >= 1"),
    ("index.layers=[512,0]", "index.layers = [512, 0]: expected a list of hidden sizes, each >= 1"),
]


@pytest.mark.parametrize("item,message", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_value_refused_before_any_stage_runs(item, message, tmp_path, capsys):
    """Each bad value: exit 2, one line naming key, value and what is allowed, nothing written."""
    import time

    from lcrec_mini.core.cli import main

    run_dir = tmp_path / "run"
    t0 = time.perf_counter()
    rc = main(["run", "--preset", "cpu", "--run-dir", str(run_dir), "--set", item])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert message in err, err
    assert len(err.splitlines()) == 1 and err.startswith("lcrec-mini: error: ")
    assert not run_dir.exists()  # refused before the first stage made its folder
    assert elapsed < 5


def test_full_tuning_with_index_lr_is_refused_only_under_deepspeed():
    make_config("cpu", set_items=["tune.method=full"])  # rows apart at index_lr: fine without ZeRO
    with pytest.raises(ConfigError, match="tune.index_lr = 0.005 / tune.embed_warmup_steps = 10 with tune.method = 'full' and tune.deepspeed"):
        make_config("cpu", set_items=["tune.method=full", "tune.deepspeed=configs/ds_zero3.json"])
    make_config("paper")  # the paper preset keeps one group under DeepSpeed


def test_did_you_mean_matches_the_last_part_and_wraps_the_key_list():
    with pytest.raises(ConfigError) as e:
        make_config("cpu", set_items=["tune.lerning_rate=1e-3"])
    first, *rest = str(e.value).splitlines()
    assert "Did you mean tune.lr," in first
    assert rest[0] == "Keys of section 'tune':" and all(len(line) <= 102 for line in rest)
    with pytest.raises(ConfigError, match="Did you mean tune.lora_r"):
        make_config("cpu", set_items=["tune.lora_rank=4"])
