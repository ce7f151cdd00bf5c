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


# ---- the modern profile's costs are measured, and none is counted twice ------------------
def test_native_reproduces_the_bare_metal_latency_its_device_time_comes_from():
    from virtmodel.paths import simulate

    # AnandTech review 11209: P4800X, 4 KiB random read, QD1 mean 8.9 us on bare metal
    native = simulate("native", request_bytes=4096, requests=20_000).mean_latency_ns
    assert native == pytest.approx(8900, rel=0.05)
    # device assignment pays at least the VM entry after each halt: above native
    passthrough = simulate("passthrough", request_bytes=4096, requests=20_000).mean_latency_ns
    assert passthrough > native + 0.5 * costs.MODERN.wake_entry_ns


def test_every_modern_cost_names_its_status_and_no_proxy_is_called_published():
    for row in costs.MODERN.table():
        assert row["status"] in costs.STATUSES and row["source"] != "not stated", row["name"]
    src = costs.MODERN.sources
    assert "gVisor" not in src["guest_ns_per_request"]["source"]
    assert src["virtio_ns_per_request"]["status"] == "measured"
    assert "a VM" in src["virtio_ns_per_request"]["source"]  # the host is labelled
    assert "ASSUMPTION" in src["guest_ns_per_request"]["source"]  # the split
    assert src["wake_entry_ns"]["status"] == "assumption"


def test_the_wake_entry_is_part_of_the_exit_round_trip():
    with pytest.raises(ValueError, match=r"wake_entry_ns must be in 0\.\.vmexit_ns"):
        costs.MODERN.replace(wake_entry_ns=costs.MODERN.vmexit_ns + 1)


def test_the_sensitivity_table_varies_every_assumption_and_names_what_it_moves():
    from virtmodel import sensitivity

    rows = sensitivity.table()
    assert len(rows) == len(sensitivity.ASSUMPTIONS) * len(sensitivity.OUTPUTS)
    by = {(r.assumption.name, r.output): r for r in rows}
    # the wake-up entry is the whole of passthrough's QD1 overhead over native
    r = by[("wake_entry_ns", "passthrough - native at QD1 (µs)")]
    assert r.at_low < r.base < r.at_high
    # a cheaper QEMU raises one back-end thread's ceiling
    r = by[("virtio_ns_per_request", "one back-end thread's ceiling (k IOPS)")]
    assert r.at_low > r.base * 1.2
    md = sensitivity.markdown()
    assert md.count("\n") >= len(sensitivity.ASSUMPTIONS) + 1
    assert all(a.name in md for a in sensitivity.ASSUMPTIONS)


def test_the_lab_says_which_kvm_it_ran_on():
    """The KVM flags of a lab profile follow its flavour: only VMX has fast MMIO."""
    from virtmodel.lab import calibrate

    assert calibrate.host_kvm("vmx")["fast_mmio"][0] is True
    for flavour in ("svm", "pvm"):
        value, src = calibrate.host_kvm(flavour)["fast_mmio"]
        assert value is False and flavour in src["source"]
    assert calibrate.host_kvm("pvm")["fast_pio_in"][0] is True
    element, src = calibrate.host_kvm("pvm")["pio_element_ns"]
    assert element == costs.MODERN.pio_element_ns and "not measured by the lab" in src["source"]


def test_the_modern_element_cost_is_the_qemu_labs_measurement():
    from virtmodel.lab import qemu

    (tcg,) = qemu.shipped().experiments["ide_guest/tcg"]["results"]
    assert costs.MODERN.pio_element_ns == pytest.approx(tcg["pio_element_ns"], abs=0.1)
    src = costs.MODERN.sources["pio_element_ns"]
    assert src["status"] == "measured" and "AMD EPYC" in src["source"]  # the host is named
