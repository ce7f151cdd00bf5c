"""The model beside published results from real systems: the table and its targets."""

from virtmodel import validation


def test_the_table_covers_enough_results_from_enough_sources():
    rows = validation.table()
    assert len(rows) >= 10
    s = validation.summary(rows)
    assert s.sources >= 4
    assert s.count_points >= 5 and s.ratio_points >= 5


def test_every_case_names_a_published_entry_with_its_source_and_host():
    for r in validation.table():
        e = r.case.entry
        assert e["source"] and e["host"] and e["workload"]
        assert r.reported == (e["raw"][r.case.raw_key] if r.case.raw_key else e["value"])


def test_ratios_meet_their_target():
    s = validation.summary()
    assert s.ratios_ok, f"median ratio error {s.ratio_median_error:.0%}"


def test_every_miss_says_why():
    for r in validation.table():
        if r.within is False:
            assert r.case.miss, f"{r.case.label}: off by {r.error:+.0%} with no explanation"


def test_counts_meet_their_target():
    s = validation.summary()
    assert s.counts_ok, f"{s.counts_within} of {s.count_points} count points within target"


def test_the_appendix_table_shows_every_result_with_its_verdict():
    from virtmodel.widgets import validation_table

    rows = validation.table()
    page = validation_table(rows)._repr_html_()
    assert page.count("<tr>") == 1 + len(rows)  # header + one row per result
    assert page.count("<td>yes</td>") == sum(r.within is True for r in rows)
    assert page.count("<td>no</td>") == sum(r.within is False for r in rows)
    assert page.count("<td>no target</td>") == sum(r.within is None for r in rows)
    for r in rows:
        assert r.case.label in page and f"{r.error:+.0%}" in page


def test_a_case_explains_itself_only_where_the_model_misses():
    """No stale explanation: a result the model meets carries no miss text."""
    for r in validation.table():
        if r.within is True:
            assert not r.case.miss, f"{r.case.label} is within target but says why it misses"
