"""Tables as the book shows them."""

from lcrec_mini.book.tables import Table


def test_index_tokens_in_table_cells_are_never_split():
    h = Table([{"item": "Star Wars <a_9><b_29><c_12>", "x": 0.5}])._repr_html_()
    assert h.count('<span class="ix">') == 3 and h.count("<wbr>") == 3
    assert '<span class="ix">&lt;b_29&gt;</span><wbr>' in h
    assert "Star Wars " in h and "<script" not in Table([{"a": "<script>"}])._repr_html_()


def test_long_prompts_are_cut_between_tokens_and_words():
    from lcrec_mini.book.tables import _clip

    text = "Given the history " + ", ".join("<a_12><b_3><c_17>" for _ in range(30))
    for width in range(30, 200, 7):
        cut = _clip(text, width)
        assert cut.endswith(" ...") and len(cut) <= width + 4
        body = cut[: -4]
        assert body.count("<") == body.count(">"), cut  # no token cut in two
        assert text.startswith(body)
    assert _clip("short", 10) == "short"


def test_changed_settings_show_empty_and_spaced_strings_visibly():
    from lcrec_mini.book.tables import changed_settings_table
    from lcrec_mini.core.config import make_config

    rows = {r["setting"]: r for r in changed_settings_table(make_config("cpu")).rows}
    assert rows["tasks.history_separator"]["default"] == '", "'
    assert rows["tasks.history_separator"]["this run"] == '""'
    assert rows["tasks.seqrec_format"]["this run"] == "window"  # plain words stay plain
