"""Cost profiles as data: JSON files written and read back without KVM, and errors that
name the file."""

import dataclasses
import json
import re

import pytest

from virtmodel import costs


@pytest.mark.parametrize("name", sorted(costs.PROFILES))
def test_save_then_load_gives_every_field_and_source_back(name, tmp_path):
    prof = costs.PROFILES[name]
    path = tmp_path / f"{name}.json"
    costs.save(prof, path)
    back = costs.load(path)
    for f in dataclasses.fields(costs.CostProfile):
        assert getattr(back, f.name) == getattr(prof, f.name), f.name
    assert back.sources == prof.sources and back.sources  # not compared by ==
    assert costs.get(str(path)) == prof


def test_a_changed_profile_round_trips_with_its_changes_labelled(tmp_path):
    prof = costs.MODERN.replace(vmexit_ns=1234.5, jitter_cv=0)
    costs.save(prof, tmp_path / "p.json")
    back = costs.load(tmp_path / "p.json")
    assert back.vmexit_ns == 1234.5 and back.jitter_cv == 0
    assert back.sources["vmexit_ns"] == {"status": "assumption", "source": "set by the user"}


def _write(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


def test_malformed_files_are_errors_that_name_the_file(tmp_path):
    good = costs.MODERN.to_dict()
    cases = [
        ("{not json", " is not valid JSON"),
        ("[1, 2]", " must hold a JSON object"),
        (json.dumps({**good, "warp_ns": 1}), " is not a cost profile: unknown keys warp_ns"),
        (
            json.dumps({k: v for k, v in good.items() if k != "eoi_ns"}),
            " is not a cost profile: missing keys eoi_ns",
        ),
        (json.dumps({**good, "eoi_ns": -1}), r": eoi_ns must be a finite number >= 0 \(ns\)"),
        (
            json.dumps({**good, "sources": {"eoi_ns": {"status": "rumour"}}}),
            r": sources\['eoi_ns'\]\['status'\] must be one of",
        ),
    ]
    for text, why in cases:
        path = _write(tmp_path, text)
        where = re.escape(f"profile file {str(path)!r}")
        with pytest.raises(ValueError, match=f"^{where}{why}"):
            costs.load(path)
    with pytest.raises(ValueError, match="cannot be read"):
        costs.load(tmp_path / "missing.json")
