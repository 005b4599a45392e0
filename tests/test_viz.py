"""Tables as the book shows them."""

from lcrec_mini.book.tables import Table


def test_index_tokens_in_table_cells_are_never_split():
    h = Table([{"item": "Star Wars <a_9><b_29><c_12>", "x": 0.5}])._repr_html_()
    assert h.count('<span class="ix">') == 3 and h.count("<wbr>") == 3
    assert '<span class="ix">&lt;b_29&gt;</span><wbr>' in h
    assert "Star Wars " in h and "<script" not in Table([{"a": "<script>"}])._repr_html_()
