"""The model beside published results from real systems: the table and its targets."""

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


@pytest.mark.xfail(strict=True, reason="4 of 8 count points within 15 %: the misses are QEMU "
                   "2022's NVMe at QD >= 2 without shadow doorbells (and QD8 with), where the "
                   "measured system served each I/O alone; see the validation appendix")
def test_counts_meet_their_target():
    s = validation.summary()
    assert s.counts_ok, f"{s.counts_within} of {s.count_points} count points within target"
