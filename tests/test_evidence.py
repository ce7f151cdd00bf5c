"""Evidence tables and the validation chart, as HTML (the site tests look at them in a
browser, desktop and phone)."""

import re

import pytest

from virtmodel import evidence, validation


def test_a_table_labels_every_cell_for_its_phone_card():
    t = evidence.Table(
        [{"what": "a <b>", "value": 1234.5, "n": 0.5}],
        {"what": "result", "value": "reported", "n": "model"},
    )
    page = t._repr_html_()
    assert (
        '<tr><td data-label="result">a &lt;b&gt;</td>'
        '<td data-label="reported" class="vm-num">1,234</td>'
        '<td data-label="model" class="vm-num">0.50</td></tr>'
    ) in page
    # narrower than CARD_WIDTH the rows are cards, each cell labelled by its header
    assert f"@media (max-width:{evidence.CARD_WIDTH}px)" in page
    assert ".vm-table td::before{content:attr(data-label)" in page
    assert '<div class="vm-table-box">' in page  # wider: scrolls in its box, not the page


def test_a_cited_key_must_be_listed():
    rows = [{"what": "x", "src": evidence.Cite("Fan2022a")}]
    with pytest.raises(ValueError, match=r"sources: no entry for the cited keys \['Fan2022a'\]"):
        evidence.Table(rows, {"what": "result", "src": "source"})
    t = evidence.Table(rows, {"what": "result", "src": "source"}, sources={"Fan2022a": "J. Fan"})
    page = t._repr_html_()
    assert '<a href="#src-fan2022a">[Fan2022a]</a>' in page
    assert '<dt id="src-fan2022a">[Fan2022a]</dt><dd>J. Fan</dd>' in page
    assert repr(t) == "x | [Fan2022a]\n\n[Fan2022a] J. Fan"


def test_folded_cells_open_on_a_click():
    t = evidence.Table([{"d": evidence.Fold("host", "Xeon & co")}], {"d": "details"})
    assert "<details><summary>host</summary>Xeon &amp; co</details>" in t._repr_html_()
    assert repr(t) == "Xeon & co"


def test_the_lab_table_leads_with_measured_model_error():
    from virtmodel.lab import validate

    m, _ = validate.shipped()
    rows = validate.compare(m.results, m.profile)
    t = evidence.lab_error_table(rows)
    assert list(t.columns.values())[:4] == [
        "experiment, knob, request",
        "measured µs",
        "model µs",
        "error",
    ]
    assert t._repr_html_().count("<tr>") == 1 + len(rows)


def test_the_chart_has_a_numbered_point_per_result_with_its_values():
    rows = validation.table()
    chart = evidence.validation_chart(rows)
    kinds = ["count", "ratio", "scaling", "absolute"]
    assert [p[0] for p in chart.panels] == kinds
    page = chart._repr_html_()
    assert page.count("<svg") == 4
    tips = re.findall(r'<g id="vm-pt-(\d+)"><title>([^<]*)</title>', page)
    ran = [n for n in range(1, len(rows) + 1) if not rows[n - 1].skipped]
    assert len(ran) == len(rows)  # every row runs today (one that could not has no point)
    assert [int(n) for n, _ in tips] == sorted(
        ran,
        key=lambda n: kinds.index(k if (k := rows[n - 1].case.kind) in kinds else "absolute"),
    )
    for n, tip in tips:
        r = rows[int(n) - 1]
        assert tip.startswith(f"{n}. {r.case.label}: reported {r.reported:.4g}, model ")
        assert f"({r.error:+.0%})" in tip
    labels = {t for s in re.findall(r">([\d,]+)</text>", page) for t in s.split(",")}
    assert {str(n) for n in ran} <= labels  # every point numbered


def test_the_count_band_is_the_count_target():
    """15 % or 0.1 absolute, whichever is wider: the band and the verdict agree."""
    for x in (0.05, 0.27, 0.5, 1.0, 2.0):
        lo, hi = evidence._band("count", x)
        assert validation._within("count", x, hi * 0.999) and validation._within(
            "count", x, max(lo * 1.001, 1e-9)
        )
        assert not validation._within("count", x, hi * 1.01)
    lo, hi = evidence._band("ratio", 2.0)
    assert (lo, hi) == pytest.approx((1.4, 2.6))
    assert evidence._band("scaling", 2.0) == pytest.approx((1.4, 2.6))
    assert evidence._band("absolute", 2.0) == pytest.approx((1.3, 2.7))
    assert evidence._band("no such kind", 2.0) is None


def test_the_chart_lays_its_panels_out_in_cells_of_one_size():
    """A grid of equal columns, two across and one on a phone (the site test measures
    the panels); no panel may grow into a row of its own (flex-grow once drew the
    fourth, alone on its row, larger than the others)."""
    page = evidence.validation_chart()._repr_html_()
    assert evidence.CHART_CSS in page and "flex" not in evidence.CHART_CSS
    assert "grid-template-columns:repeat(2,minmax(0,1fr))" in evidence.CHART_CSS
    phone = evidence.CHART_CSS.split("@media (max-width:640px)")[1]
    assert "grid-template-columns:minmax(0,1fr)" in phone
