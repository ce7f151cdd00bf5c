"""The model beside published results from real systems: the table and its targets."""

import math

import pytest

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


@pytest.mark.xfail(
    strict=True,
    reason="with the QEMU lab's 2.3 us per request the emulated NVMe controller is always "
    "draining, and the model updates its EventIdx only when it stops: 0 doorbells per I/O "
    "at QD2-8 with shadow doorbells (measured 0.27-0.52). Fixed by issue 21's per-command "
    "EventIdx (nvme_process_sq), in the event loop this branch may not edit",
)
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
    assert page.count("<td>no target</td>") == sum(r.within is None and not r.skipped for r in rows)
    for r in rows:
        assert r.case.label in page
        if r.skipped:  # shown with what it needs, never silently
            assert f"<td>{r.skipped}</td>" in page
        else:
            assert f"{r.error:+.0%}" in page
    assert sum(bool(r.skipped) for r in rows) == page.count("<td>not run</td>")


def test_a_case_explains_itself_only_where_the_model_misses():
    """No stale explanation: a result the model meets carries no miss text."""
    for r in validation.table():
        if r.within is True:
            assert not r.case.miss, f"{r.case.label} is within target but says why it misses"


def test_absolute_rates_and_latencies_meet_their_target():
    s = validation.summary()
    assert s.absolute_points >= 5
    assert s.absolute_ok, f"median absolute error {s.absolute_median_error:.0%}"


def test_scaling_points_come_from_three_sources_and_those_run_meet_their_target():
    s = validation.summary()
    assert s.scaling_sources >= 3
    assert s.scaling_points >= 3  # the depth points run today; jobs/queues/threads wait
    assert s.scaling_ok, f"median scaling error {s.scaling_median_error:.0%}"


def test_a_case_the_model_cannot_run_yet_is_skipped_with_what_it_needs():
    rows = {r.case.id: r for r in validation.table()}
    r = rows["vhost-scsi-worker-per-vq-16jobs-vs-1job"]
    assert r.skipped == "needs vcpus/numjobs/queues/backend_threads"
    assert r.within is None and math.isnan(r.model)
    # a path that takes a parameter is not asked for it: passthrough has queues today
    case = validation.Case("x", "", lambda: 0.0, needs=(("passthrough", "queues"),))
    assert case.missing() == ()
    assert validation.Case("x", "", lambda: 0.0, needs=(("native", "queues"),)).missing() == (
        "queues",
    )
    s = validation.summary()
    assert s.skipped == sum(bool(r.skipped) for r in rows.values()) > 0
    # skipped rows count in no median
    ran = [r for r in rows.values() if not r.skipped and r.case.kind == "scaling"]
    assert s.scaling_points == len(ran)
