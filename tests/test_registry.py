"""The path registry: a path declared in a test module is found everywhere paths are listed,
and every declared parameter of every registered path rejects a bad value by name."""

import re

import numpy as np
import pytest

from virtmodel import hardware, paths
from virtmodel import params as P
from virtmodel.__main__ import main
from virtmodel.explore import figures as plots
from virtmodel.explore.figures import EndLabels
from virtmodel.paths import Example, Outcome, Param, Path
from virtmodel.paths.result import STAGES
from virtmodel.sweep import compare, sweep

TOY_COLOR = "#123456"


def _toy_run(p, profile, rng) -> Outcome:
    """Every request takes ``work_ns`` of guest time, one after another (double with
    ``twice``)."""
    n = p["requests"]
    ns = p["work_ns"] * (2 if p["twice"] else 1)
    stage = np.zeros(len(STAGES))
    stage[STAGES.index("guest")] = ns
    return Outcome(
        elapsed_ns=float(ns * n),
        latencies=np.full(n, float(ns)),
        exits=0.0,
        user_exits=0.0,
        interrupts=0.0,
        kicks=0.0,
        context_switches=0.0,
        copied=0.0,
        stage_ns=stage,
        exits_by_reason={"io": 0.0, "eoi": 0.0, "hlt": 0.0, "interrupt": 0.0, "other": 0.0},
    )


TOY = Path(
    name="toy",
    label="a toy path",
    color=TOY_COLOR,
    doc="a path declared by a test",
    params=(
        P.REQUEST_BYTES,
        P.REQUESTS,
        Param("work_ns", 250, "ns", "guest time per request", lo=1, hi=10**6),
        Param("twice", False, "", "every request takes twice as long", kind="bool"),
        P.PROFILE,
        P.SEED,
    ),
    run=_toy_run,
    examples=(Example("toy card", "one toy request", "none", dict(work_ns=4000)),),
)


@pytest.fixture
def toy():
    paths.register(TOY)
    try:
        yield TOY
    finally:
        paths.unregister(TOY.name)


def test_simulate_runs_a_registered_path(toy):
    r = paths.simulate("toy", work_ns=400, twice=True, requests=10)
    assert r.path == "toy" and r.requests == 10
    assert r.us_per_request == 0.8 and r.mean_latency_ns == 800
    assert r.breakdown_ns["guest"] == 800 and r.params["work_ns"] == 400
    with pytest.raises(ValueError, match=r"work_ns must be in 1\.\.1000000, got 0"):
        paths.simulate("toy", work_ns=0)
    with pytest.raises(ValueError, match="'toy' takes no parameter batch"):
        paths.simulate("toy", batch=2)


def test_registering_twice_or_a_non_path_is_refused(toy):
    with pytest.raises(ValueError, match="a path named 'toy' is already registered"):
        paths.register(TOY)
    with pytest.raises(ValueError, match="register takes a Path, got str"):
        paths.register("toy")


def test_the_toy_goes_away_again():
    assert "toy" not in paths.names()
    with pytest.raises(ValueError, match="path must be one of .*; got 'toy'"):
        paths.simulate("toy")


def test_sweep_and_compare_include_the_toy(toy):
    c = sweep("toy", "work_ns", [100, 300], requests=5)
    assert c.field("us_per_request").tolist() == [0.1, 0.3]
    cs = compare("request_bytes", [512, 4096], requests=50)
    assert list(cs) == list(paths.names()) and list(cs)[-1] == "toy"
    assert cs["toy"].field("us_per_request").tolist() == [0.25, 0.25]


def test_a_plot_shows_the_toy_in_its_legend_and_colour(toy):
    cs = compare("request_bytes", [512, 4096], paths=["virtio", "toy"], requests=50)
    fig = plots.curves(cs, ("us_per_request",))
    ax = fig.axes[0]
    # each line labelled at its right end (no legend: every label fits)
    (labels,) = [a for a in ax.get_children() if isinstance(a, EndLabels)]
    assert [t.get_text() for t in labels.texts] == [paths.get("virtio").label, "a toy path"]
    assert not fig.legends
    (line,) = [ln for ln in ax.lines if ln.get_label() == "a toy path"]
    assert line.get_color() == TOY_COLOR
    assert line.get_ydata().tolist() == [0.25, 0.25]


def test_cli_paths_lists_the_toy_with_its_parameters(toy, capsys):
    assert main(["paths"]) == 0
    out = capsys.readouterr().out
    block = out.split("toy: a toy path -- a path declared by a test\n")[1]
    assert re.search(r"^  work_ns +default 250 +ns +1\.\.1000000$", block, re.MULTILINE)
    assert "guest time per request" in block
    assert re.search(r"^  twice +default False +True or False$", block, re.MULTILINE)


def test_cli_compare_takes_the_toy_and_its_options(toy, capsys):
    assert (
        main(
            [
                "compare",
                "--paths",
                "toy,native",
                "--request-bytes",
                "512,4096",
                "--work-ns",
                "2000",
                "--requests",
                "40",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("512 ", "4096 "))]
    assert [r[1] for r in rows] == ["toy", "native"] * 2
    assert [float(r[2]) for r in rows if r[1] == "toy"] == [2.0, 2.0]  # µs/req
    with pytest.raises(SystemExit):
        main(["compare", "--paths", "toy", "--request-bytes", "512", "--work-ns", "0"])
    assert "work_ns must be in 1..1000000" in capsys.readouterr().err


def test_the_hardware_catalogue_lists_the_toy_example(toy):
    rows = [r for r in hardware.catalogue(requests=20) if r["path"] == "toy"]
    assert rows == [
        {
            "path": "toy",
            "hardware": "toy card",
            "operation": "one toy request",
            "accesses": "none",
            "exits": 0.0,
            "user_exits": 0.0,
            "copied_bytes": 0.0,
            "us_per_request": 4.0,
        }
    ]


# ---- every parameter of every registered path rejects a bad value by name ----------------
def _bad_values(prm: Param, hi):
    """(bad value, texts the error must contain) for a parameter, from its kind."""
    if prm.kind == "int":
        rng = f"{prm.lo}..{hi}"
        return [(prm.lo - 1, [rng]), (hi + 1, [rng]), (1.5, [rng]), ("3", [rng])]
    if prm.kind == "seed":
        return [(-1, ["0.."]), (2**63, ["0.."]), (0.5, ["0.."])]
    if prm.kind == "bool":
        return [(1, ["True or False"]), ("yes", ["True or False"])]
    if prm.kind == "choice":
        return [("no such choice", [repr(c) for c in prm.choices])]
    if prm.kind == "profile":
        return [("no-such-profile", ["a CostProfile", "modern"]), (3, ["a CostProfile"])]
    if prm.kind == "custom":  # check_fn decides; hi_text states the range in words
        numbers = re.findall(r"\d+", prm.hi_text)
        return [(-1, numbers), (2**40, numbers)]
    raise AssertionError(f"a test for kind {prm.kind!r} is missing")


CASES = [(path.name, prm.name) for path in paths.REGISTRY.values() for prm in path.params]


@pytest.mark.parametrize("path,name", CASES)
def test_every_parameter_rejects_a_bad_value_naming_itself_and_its_range(path, name):
    decl = paths.get(path)
    prm = decl.param(name)
    before = {}
    for p in decl.params:  # the values a range may depend on: the defaults
        if p.name == name:
            break
        before[p.name] = p.check(p.default, before)
    hi = prm.hi(before) if callable(prm.hi) else prm.hi
    for bad, texts in _bad_values(prm, hi):
        with pytest.raises(ValueError) as e:
            paths.simulate(path, **{"requests": 10, name: bad})
        msg = str(e.value)
        assert msg.startswith(f"{name} must be"), msg
        for t in texts:
            assert t in msg, (bad, msg)


def test_the_cases_cover_every_path():
    assert {p for p, _ in CASES} == set(paths.names())


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(kind="float", lo=0, hi=1), "w: kind must be one of int, bool, choice"),
        (dict(lo=0), "w: an int parameter declares lo and hi"),
        (dict(kind="choice", choices=("a", "b")), "w: the default 1 is not a choice"),
    ],
)
def test_a_declaration_that_cannot_check_is_refused_when_made(kw, msg):
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}"):
        Param("w", 1, "", "a parameter declared wrong", **kw)
