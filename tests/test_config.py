import pytest

from lcrec_mini.config import PRESETS, Config, config_from_dict, make_config, valid_keys
from lcrec_mini.errors import ConfigError


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
    for key in valid_keys():
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


def test_config_round_trips_through_a_dict():
    cfg = make_config("smoke", set_items=["seed=9"])
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again, Config)
