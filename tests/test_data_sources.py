"""Every data source end to end on small files in the exact upstream formats."""

import gzip
import json
import socket

import pytest
from conftest import CORE_ITEMS, sha256, write_amazon2018, write_amazon2023

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import ConfigError, DataError, DownloadError
from lcrec_mini.data.download import fetch
from lcrec_mini.data.stage import load_dataset, run_data


def cfg_for(source, tmp_path, *sets):
    return make_config("cpu", set_items=[f"data.source={source}", f"data.cache_dir={tmp_path / 'cache'}", *sets])


def quiet(_msg):
    pass


def assert_no_partial_output(run_dir):
    """A failed data stage leaves no data folder, no temporary folder, and no run folder it
    made only for itself."""
    assert not (run_dir / "data").exists()
    if run_dir.exists():
        assert [p.name for p in run_dir.iterdir() if p.name.startswith(".data.")] == []


# -- MovieLens-100K from the recbole wheel ---------------------------------------------------


def test_ml100k_counts_match_the_published_ones(tmp_path):
    run_data(make_config("cpu"), tmp_path, log=quiet)
    st = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert st["raw"] == {"users": 943, "items": 1682, "interactions": 100000}
    assert (st["users"], st["items"], st["interactions"]) == (943, 1349, 99287)
    assert st["filtering"]["users_with_tied_last_two_before_filter"] == 415
    ds = load_dataset(tmp_path)
    toy = ds.items["0"]
    assert toy["title"] == "Toy Story" and toy["year"] == "1995"
    assert toy["genres"] == ["Animation", "Children's", "Comedy"]
    assert min(len(s) for s in ds.sequences.values()) >= 5


def test_ml100k_without_recbole_says_how_to_install(monkeypatch, tmp_path):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(DataError, match=r"pip install --no-deps recbole==1.2.1"):
        run_data(make_config("cpu"), tmp_path, log=quiet)
    assert_no_partial_output(tmp_path)


# -- Amazon 2018 -----------------------------------------------------------------------------


def test_amazon2018_download_and_lcrec_preprocessing(file_server, tmp_path):
    base, root, log, _ = file_server
    write_amazon2018(root)
    cfg = cfg_for("amazon2018:Musical_Instruments", tmp_path, f"data.amazon2018_base_url={base}")
    run_dir = tmp_path / "run"
    run_data(cfg, run_dir, log=quiet)
    ds = load_dataset(run_dir)
    st = ds.stats
    assert st["raw"] == {"users": 7, "items": 9, "interactions": 51}
    assert (st["users"], st["items"], st["interactions"]) == (6, 6, 36)
    f = st["filtering"]
    assert f["interactions_without_metadata"] == 10  # no metadata (5) + empty title (5)
    assert f["items_without_title"] == 1 and f["meta_duplicates"] == 1
    assert f["duplicate_pairs"] == 1
    assert f["kcore_removed_interactions"] == 4  # rare item (3) + lonely user (1)
    assert [ds.items[str(i)]["source_id"] for i in range(6)] == CORE_ITEMS
    item = ds.items["0"]
    assert item["title"] == "Guitar & Strings No. 0"
    assert item["description"] == "A fine thing number 0. Second line here."
    assert item["categories"] == "Musical Instruments, Guitars"
    assert item["brand"] == "Acme"
    # chronological: user 0 rated items 0..5 in that order
    assert ds.sequences["0"] == [0, 1, 2, 3, 4, 5]
    assert ds.sequences["1"] == [1, 2, 3, 4, 5, 0]
    # cached: a second source read downloads nothing
    n = len(log)
    run_data(cfg, run_dir, force=True, log=quiet)
    assert len(log) == n


def test_amazon2018_unknown_category_suggests_and_does_not_download(file_server, tmp_path):
    base, _, log, _ = file_server
    cfg = cfg_for("amazon2018:Musical_Instrument", tmp_path, f"data.amazon2018_base_url={base}")
    with pytest.raises(ConfigError, match="Did you mean Musical_Instruments") as e:
        run_data(cfg, tmp_path / "run", log=quiet)
    assert "Video_Games" in str(e.value)  # the valid list is shown
    assert log == []


def test_no_network_is_a_clear_error_and_leaves_nothing(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = cfg_for("amazon2018:Video_Games", tmp_path, f"data.amazon2018_base_url=http://127.0.0.1:{port}")
    run_dir = tmp_path / "run"
    with pytest.raises(DownloadError) as e:
        run_data(cfg, run_dir, log=quiet)
    msg = str(e.value)
    assert "cannot download http://127.0.0.1" in msg and "no network" in msg
    assert str(tmp_path / "cache" / "amazon2018" / "categoryFilesSmall" / "Video_Games.csv") in msg
    assert_no_partial_output(run_dir)


def test_offline_mode_does_not_connect(monkeypatch, file_server, tmp_path):
    base, root, log, _ = file_server
    write_amazon2018(root)
    monkeypatch.setenv("LCREC_MINI_OFFLINE", "1")
    cfg = cfg_for("amazon2018:Musical_Instruments", tmp_path, f"data.amazon2018_base_url={base}")
    with pytest.raises(DownloadError, match="offline mode"):
        run_data(cfg, tmp_path / "run", log=quiet)
    assert log == []


def test_truncated_gz_names_the_file_and_leaves_nothing(file_server, tmp_path):
    base, root, _, _ = file_server
    files = write_amazon2018(root)
    data = files["meta"].read_bytes()
    files["meta"].write_bytes(data[: len(data) // 2])
    cfg = cfg_for("amazon2018:Musical_Instruments", tmp_path, f"data.amazon2018_base_url={base}")
    run_dir = tmp_path / "run"
    with pytest.raises(DataError, match=r"meta_Musical_Instruments.json.gz: truncated or corrupt gzip") as e:
        run_data(cfg, run_dir, log=quiet)
    assert "rm '" in str(e.value)
    assert_no_partial_output(run_dir)


def test_malformed_json_line_names_file_and_line(file_server, tmp_path):
    base, root, _, _ = file_server
    files = write_amazon2018(root)
    lines = gzip.decompress(files["meta"].read_bytes()).decode().splitlines()
    lines[2] = lines[2][:-5]  # cut the closing of the third object
    files["meta"].write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    cfg = cfg_for("amazon2018:Musical_Instruments", tmp_path, f"data.amazon2018_base_url={base}")
    with pytest.raises(DataError, match=r"meta_Musical_Instruments.json.gz line 3: not valid JSON"):
        run_data(cfg, tmp_path / "run", log=quiet)
    assert_no_partial_output(tmp_path / "run")


def test_malformed_csv_line_names_file_and_line(file_server, tmp_path):
    base, root, _, _ = file_server
    files = write_amazon2018(root)
    with open(files["ratings"], "a") as f:
        f.write("B00X,A00Y,five\n")
    cfg = cfg_for("amazon2018:Musical_Instruments", tmp_path, f"data.amazon2018_base_url={base}")
    with pytest.raises(DataError, match=r"Musical_Instruments.csv line 52: expected 4 comma-separated"):
        run_data(cfg, tmp_path / "run", log=quiet)


# -- Amazon 2023 -----------------------------------------------------------------------------


def test_amazon2023_by_explicit_hub_paths_with_checksum(file_server, tmp_path):
    base, root, log, etags = file_server
    files = write_amazon2023(root)
    for key, path in files.items():
        etags[str(path.relative_to(root))] = sha256(path)
    cfg = cfg_for("amazon2023:All_Beauty", tmp_path, f"data.amazon2023_base_url={base}")
    run_data(cfg, tmp_path / "run", log=quiet)
    ds = load_dataset(tmp_path / "run")
    assert (ds.n_users, ds.n_items) == (6, 6)
    assert ds.items["0"]["brand"] == "Acme"  # 2023 has `store` where 2018 had `brand`
    assert sorted(p for p, _ in log) == [
        "benchmark/0core/rating_only/All_Beauty.csv",
        "raw/meta_categories/meta_All_Beauty.jsonl",
    ]


def test_checksum_mismatch_removes_the_file(file_server, tmp_path):
    base, root, _, etags = file_server
    files = write_amazon2023(root)
    etags[str(files["ratings"].relative_to(root))] = "0" * 64
    cfg = cfg_for("amazon2023:All_Beauty", tmp_path, f"data.amazon2023_base_url={base}")
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        run_data(cfg, tmp_path / "run", log=quiet)
    cached = tmp_path / "cache" / "amazon2023" / "benchmark" / "0core" / "rating_only"
    assert list(cached.iterdir()) == []


def test_amazon2023_unknown_category(tmp_path):
    with pytest.raises(ConfigError, match="unknown Amazon 2023 category 'Beauty'"):
        run_data(cfg_for("amazon2023:Beauty", tmp_path), tmp_path / "run", log=quiet)


# -- downloads -------------------------------------------------------------------------------


def test_interrupted_download_resumes_with_a_range_request(file_server, tmp_path):
    base, root, log, _ = file_server
    payload = bytes(range(256)) * 4000
    (root / "big.bin").write_bytes(payload)
    dest = tmp_path / "dl" / "big.bin"
    dest.parent.mkdir()
    part = dest.with_name("big.bin.part")
    part.write_bytes(payload[:12345])  # what an interrupted download left
    fetch(f"{base}/big.bin", dest, progress=False)
    assert dest.read_bytes() == payload and not part.exists()
    assert log == [("big.bin", "bytes=12345-")]
    fetch(f"{base}/big.bin", dest, progress=False)  # cached: no request
    assert len(log) == 1


def test_http_error_names_the_url(file_server, tmp_path):
    base, _, _, _ = file_server
    with pytest.raises(DownloadError, match=r"missing.csv: the server answered HTTP 404"):
        fetch(f"{base}/missing.csv", tmp_path / "m.csv", progress=False)


# -- LC-Rec's released folders ---------------------------------------------------------------


def write_lcrec(folder, name="Instruments", **changes):
    folder.mkdir(parents=True, exist_ok=True)
    items = {str(i): {"title": f"Item {i}", "description": "d", "brand": "b", "categories": "c"} for i in range(5)}
    inter = {str(u): [(u + k) % 5 for k in range(4)] for u in range(4)}
    index = {str(i): [f"<a_{i}>", f"<b_{i}>", "<c_0>", "<d_0>"] for i in range(5)}
    items.update(changes.get("items", {}))
    inter.update(changes.get("inter", {}))
    (folder / f"{name}.item.json").write_text(json.dumps(items, indent=4))
    (folder / f"{name}.inter.json").write_text(changes.get("inter_text", json.dumps(inter, indent=4)))
    (folder / f"{name}.index.json").write_text(json.dumps(index))
    return folder


def test_lcrec_folder_is_loaded_as_is(tmp_path):
    folder = write_lcrec(tmp_path / "Instruments")
    run_data(cfg_for(f"lcrec:{folder}", tmp_path), tmp_path / "run", log=quiet)
    ds = load_dataset(tmp_path / "run")
    assert ds.sequences == {str(u): [(u + k) % 5 for k in range(4)] for u in range(4)}
    assert ds.items["3"]["title"] == "Item 3"
    codes = json.loads((tmp_path / "run" / "data" / "lcrec_codes.json").read_text())
    assert codes["4"][0] == "<a_4>"


def test_lcrec_item_without_title(tmp_path):
    folder = write_lcrec(tmp_path / "Instruments", items={"2": {"description": "no title"}})
    with pytest.raises(DataError, match=r"Instruments.item.json key '2': item has no title"):
        run_data(cfg_for(f"lcrec:{folder}", tmp_path), tmp_path / "run", log=quiet)
    assert_no_partial_output(tmp_path / "run")


def test_lcrec_user_with_no_interactions(tmp_path):
    folder = write_lcrec(tmp_path / "Instruments", inter={"7": []})
    with pytest.raises(DataError, match=r"Instruments.inter.json key '7': user has no interactions"):
        run_data(cfg_for(f"lcrec:{folder}", tmp_path), tmp_path / "run", log=quiet)


def test_lcrec_malformed_json_names_line(tmp_path):
    folder = write_lcrec(tmp_path / "Instruments", inter_text='{\n "0": [1, 2, 3],\n "1": [1, 2\n}\n')
    with pytest.raises(DataError, match=r"Instruments.inter.json line 4, column 1: not valid JSON"):
        run_data(cfg_for(f"lcrec:{folder}", tmp_path), tmp_path / "run", log=quiet)


def test_unknown_source(tmp_path):
    # refused when the config is built, before any stage
    with pytest.raises(ConfigError, match="data.source = 'movielens': expected ml-100k, amazon2018:<Category>"):
        run_data(cfg_for("movielens", tmp_path), tmp_path / "run", log=quiet)
    assert not (tmp_path / "run").exists()
