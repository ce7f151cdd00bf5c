"""``python -m virtmodel``: the book's curves and tables from a terminal.

Examples::

    python -m virtmodel compare --request-bytes 4096 --batch 1,4,16,64
    python -m virtmodel compare --request-bytes 512,4096,65536 --batch 16 --plot size.png
    python -m virtmodel trap --request-bytes 8192 --data-mode string-pio
    python -m virtmodel profile modern
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

COLUMNS = [
    ("us_per_request", "µs/req", 1, ".2f"),
    ("throughput_rps", "kreq/s", 1e-3, ".1f"),
    ("bytes_per_s", "MB/s", 1e-6, ".0f"),
    ("exits_per_request", "exits/req", 1, ".3f"),
    ("user_exits_per_request", "user/req", 1, ".3f"),
    ("interrupts_per_request", "irq/req", 1, ".3f"),
    ("copied_bytes_per_request", "copied B", 1, ".0f"),
    ("mean_latency_ns", "mean µs", 1e-3, ".1f"),
    ("p99_latency_ns", "p99 µs", 1e-3, ".1f"),
]


def _list(kind):
    noun = {int: "integer", float: "number"}.get(kind, "value")

    def parse(text):
        try:
            vals = [kind(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError:
            vals = []
        if not vals:
            raise argparse.ArgumentTypeError(
                f"expected one {noun} or a comma-separated list, got {text!r}"
            )
        return vals

    return parse


def _output_file(*suffixes):
    """An argument type for a file the command will write: its folder must exist and be
    writable and its name end in one of ``suffixes`` (checked before any work is done)."""

    def check(text):
        allowed = suffixes or _figure_suffixes()
        p = Path(text)
        if p.suffix.lower() not in allowed:
            raise argparse.ArgumentTypeError(
                f"{text!r}: the file name must end in {', '.join(allowed)}"
            )
        folder = p.parent
        if not folder.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r}: no folder {str(folder)!r}")
        if p.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
        if not os.access(folder, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text!r}: folder {str(folder)!r} is not writable")
        return text

    return check


def _figure_suffixes():
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted("." + k for k in FigureCanvasBase.get_supported_filetypes()))


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line (argparse prints the usage first): the command, the option
    and the problem, and where the help is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _options():
    """Every parameter of every registered path, once: (option, Param, paths taking it)."""
    from .paths import REGISTRY

    seen: dict[str, tuple] = {}
    for path in REGISTRY.values():
        for prm in path.params:
            if prm.name in seen:
                seen[prm.name][2].append(path.name)
            else:
                seen[prm.name] = ("--" + prm.name.replace("_", "-"), prm, [path.name])
    return list(seen.values())


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def _add_path_options(c) -> None:
    """compare's options, from the paths' declarations (the same schema as ``paths``)."""
    for opt, prm, takers in _options():
        where = "all paths" if len(takers) == len(_options_paths()) else ", ".join(takers)
        unit = f" ({prm.unit})" if prm.unit else ""
        if prm.kind == "bool":
            c.add_argument(
                opt,
                dest=prm.name,
                type=_list(_on_off),
                default=None,
                metavar="on|off[,...]",
                help=f"{prm.doc} [{where}]",
            )
        elif prm.kind == "profile":
            c.add_argument(
                opt,
                dest=prm.name,
                default=None,
                metavar="NAME|FILE.json",
                help=f"{prm.doc} (default {prm.default})",
            )
        else:
            kind = str if prm.kind == "choice" else int
            c.add_argument(
                opt,
                dest=prm.name,
                type=_list(kind),
                default=None,
                metavar="V[,V...]",
                help=f"{prm.doc}{unit}: {prm.allowed()}; default {prm.default} [{where}]",
            )


def _options_paths():
    from .paths import names

    return names()


def _compare(args) -> int:
    from .paths import get, names
    from .sweep import compare

    paths = [p.strip() for p in args.paths.split(",")] if args.paths else list(names())
    for p in paths:
        get(p)  # ValueError naming the registered paths
    fixed, swept = {}, []
    for opt, prm, _ in _options():
        vals = getattr(args, prm.name)
        if vals is None:
            continue
        if isinstance(vals, list) and len(vals) > 1:
            swept.append((opt, prm.name, vals))
        else:
            fixed[prm.name] = vals[0] if isinstance(vals, list) else vals
    if len(swept) > 1:
        raise ValueError(
            "give a comma list for one option only (the curve's x axis); got "
            + ", ".join(o for o, _, _ in swept)
        )
    if swept:
        over, values = swept[0][1], swept[0][2]
    else:  # one point: on the batch axis, or on a given option every chosen path takes
        over = next(
            (k for k in ("batch", *fixed) if all(k in get(p).param_names for p in paths)), "batch"
        )
        values = [fixed.pop(over)] if over in fixed else [_default(paths, over)]
    paths = [p for p in paths if over in get(p).param_names]
    if not paths:
        raise ValueError(f"no chosen path takes {over}")
    curves = compare(over, values, paths=paths, **fixed)
    head = f"{over:>13}  {'path':<9}" + "".join(f"{c[1]:>11}" for c in COLUMNS)
    print(head)
    print("-" * len(head))
    for i, v in enumerate(values):
        for path, c in curves.items():
            r = c.results[i].row()
            print(f"{v!s:>13}  {path:<9}" + "".join(f"{r[k] * s:>11{f}}" for k, _, s, f in COLUMNS))
    first = next(iter(curves.values())).results[0]
    shown = {k: v for k, v in fixed.items() if k != "profile"}
    print(
        f"\nprofile: {first.profile}"
        + "".join(f"; {k}={v}" for k, v in shown.items())
        + " (each path takes only its own parameters: python -m virtmodel paths)"
    )
    if args.plot:
        from .explore.figures import curves as plot_curves

        fig = plot_curves(curves, metrics=("us_per_request", "exits_per_request", "p99_latency_ns"))
        fig.savefig(args.plot, dpi=110)
        print(f"figure written to {args.plot}")
    return 0


def _default(paths, name):
    """The default of parameter ``name`` in the first of ``paths`` that takes it."""
    from .paths import get

    return next((get(p).param(name).default for p in paths if name in get(p).param_names), None)


def _paths(args) -> int:
    from .paths import REGISTRY

    for path in REGISTRY.values():
        print(f"{path.name}: {path.label} -- {path.doc}")
        for prm in path.params:
            unit = f" {prm.unit}" if prm.unit else ""
            print(f"  {prm.name:<26}default {prm.default!s:<10}{unit:<13} {prm.allowed()}")
            print(f"  {'':<26}{prm.doc}")
        print()
    return 0


def _trap(args) -> int:
    from .paths.result import STAGES
    from .trap import counts, ns_by_stage, steps

    kw = dict(
        direction=args.direction,
        interrupt_mode=args.interrupt_mode,
        pio_element_bytes=args.pio_element_bytes,
    )
    st = steps(args.request_bytes, args.data_mode, profile=args.profile, **kw)
    t = 0.0
    print(f"{'t (µs)':>9}  {'actor':<7}{'count':>7}  step")
    for s in st:
        print(
            f"{t / 1e3:>9.2f}  {s.actor:<7}{s.count:>7}  {s.what} "
            f"({s.ns:.0f} ns{' each' if s.count > 1 else ''}"
            f"{', beside the step before' if s.concurrent else ''})"
        )
        t += 0.0 if s.concurrent else s.ns * s.count
    print(f"{t / 1e3:>9.2f}  done")
    print(counts(args.request_bytes, args.data_mode, profile=args.profile, **kw))
    ns = ns_by_stage(st)
    print({s: round(ns.get(s, 0.0)) for s in STAGES})
    return 0


def _profile(args) -> int:
    from .costs import get

    p = get(args.name)
    print(f"{p.name}: {p.description}\n")
    for row in p.table():
        v = row["value"]
        value = f"{v!s:>12}" if isinstance(v, bool) else f"{v:>12.4g}"
        print(f"{row['name']:<22}{value} {row['unit']:<8}[{row['status']}] {row['source']}")
    return 0


def _warm(args) -> int:
    import time

    t0 = time.perf_counter()
    from .paths import names, simulate

    for path in names():
        simulate(path, requests=100)
    from . import ring

    ring.SplitQueue(8).add([1])
    print(f"numba kernels compiled or loaded from the cache in {time.perf_counter() - t0:.2f} s")
    return 0


def _usable_kvm():
    from . import lab

    p = lab.probe()
    print(p)
    if not p.usable:
        print(
            "The lab needs a usable /dev/kvm; the book shows the shipped measurements "
            "(python -m virtmodel lab --shipped prints them)."
        )
    return p.usable


def _print_micro(micro: dict, dev: dict) -> None:
    from .lab.calibrate import BENCHMARKS

    print(
        f"\nmicro-benchmarks ({micro['flavour']}; median of {micro['repeats']}; "
        f"spread = (max-min)/median):"
    )
    for k, (where, unit, _) in BENCHMARKS.items():
        src = micro if k in micro else dev
        if k not in src:  # a measurement from before this benchmark existed
            continue
        print(f"  {k:<18}{src[k]:9.4f} {unit:<4} spread {src['spread'][k]:6.1%}  ({where})")


def _lab_qemu(args) -> int:
    from .lab import qemu

    if args.shipped:
        m = qemu.shipped()
        print(
            f"shipped measurement: {m.qemu_version}; {m.host['cpu']} ({m.host['cpus']} CPUs), "
            f"kernel {m.host['kernel']}, {m.date}, load average {m.host['loadavg']:.1f} at the "
            f"start, {m.host['loadavg_end']:.1f} at the end"
        )
    else:
        if qemu.binary() is None:
            print(
                "The QEMU lab needs qemu-system-x86_64 (Debian: apt-get install "
                "qemu-system-x86); python -m virtmodel lab qemu --shipped prints the shipped "
                "measurement."
            )
            return 1
        print(f"{qemu.version()}: running the experiments ...", flush=True)
        m = qemu.run(progress=lambda line: print(line, flush=True))
        print(
            f"took {m.seconds:.0f} s; load average {m.host['loadavg']:.1f} at the start, "
            f"{m.host['loadavg_end']:.1f} at the end (other work shares QEMU's cores)"
        )
    print("\nprofiles (python -m virtmodel profile FILE.json for every source):")
    for backend, p in m.profiles.items():
        print(
            f"  {backend:<9} notify_ns {p.notify_ns:8.0f}  signal_ns {p.signal_ns:7.0f}  "
            f"virtio_ns_per_request {p.virtio_ns_per_request:6.0f}  "
            f"host_io_ns_per_request {p.host_io_ns_per_request:6.0f}"
        )
    print("\nthe model's back-end half (profile of that back end) vs QEMU:")
    print(qemu.validate.table_text(m))
    if args.json:
        qemu.validate.save(m, args.json, command=" ".join(["python -m virtmodel", *args.argv]))
        print(f"\nwrote {args.json}")
    return 0


def _lab(args) -> int:
    from .lab import validate

    if args.what == "qemu":
        return _lab_qemu(args)
    if args.json:
        raise ValueError("--json is for 'lab qemu' (the KVM lab writes its JSON with --save)")
    if args.shipped:
        m, head = validate.shipped()
        print(
            f"shipped measurement: {head['host_cpu']}, KVM {head['flavour']}, "
            f"{head['date']}, kernel {head['kernel']}"
        )
    else:
        if not _usable_kvm():
            return 1
        cells = len(
            validate.grid_cells(
                args.batch, args.request_bytes, requests=args.requests, variants=args.variants
            )
        )
        print(
            f"calibrating and running the grid, interleaved ({args.repeats} repeats of "
            f"{cells} runs and the micro-benchmarks) ...",
            flush=True,
        )
        m = validate.measure(
            args.batch,
            args.request_bytes,
            requests=args.requests,
            emulated_requests=max(500, args.requests // 4),
            repeats=args.repeats,
            ops=args.ops,
            variants=args.variants,
            progress=lambda r, n: print(
                f"  repeat {r}/{n} done" if r else "  warm-up done", flush=True
            ),
        )
        print(f"took {m.seconds:.0f} s")
    _print_micro(m.micro, m.device)
    print(f"\nprofile {m.profile.name} (python -m virtmodel profile FILE.json for sources)")
    print("\npredicted (model with that profile) vs measured, µs per request:")
    print(validate.table_text(m.rows()))
    if args.save:
        validate.save(m, args.save, command=" ".join(["python -m virtmodel", *args.argv]))
        print(f"\nwrote {args.save}")
    return 0


def _calibrate(args) -> int:
    from .costs import save
    from .lab import calibrate

    if not _usable_kvm():
        return 1
    prof, micro, dev = calibrate.calibrate(ops=args.ops, repeats=args.repeats, name=args.name)
    _print_micro(micro, dev)
    save(prof, args.out)
    print(
        f"\nwrote profile {prof.name!r} to {args.out}; use it with "
        f"--profile {args.out} or virtmodel.costs.load({args.out!r})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import params as P
    from .costs import DEFAULT as DEFAULT_PROFILE

    ap = _Parser(
        prog="python -m virtmodel",
        description="Models of KVM I/O: QEMU-emulated devices (trap per register access) vs "
        "virtio (a shared ring with batched kicks) vs native.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser(
        "compare",
        help="table (and figure) of the paths over one knob",
        description="Simulate the registered I/O paths. Give one option a "
        "comma list to sweep it; each path takes only the "
        "parameters it declares (python -m virtmodel paths).",
    )
    _add_path_options(c)
    c.add_argument(
        "--paths",
        default=None,
        metavar="P[,P...]",
        help=f"paths to compare (default: every registered path: {', '.join(_options_paths())})",
    )
    c.add_argument(
        "--plot",
        metavar="FILE.png",
        type=_output_file(),
        help="also write the curves to a figure (.png, .svg, .pdf, ...)",
    )
    c.set_defaults(func=_compare)
    ps = sub.add_parser(
        "paths", help="every path with its parameters (defaults, units, allowed values)"
    )
    ps.set_defaults(func=_paths)
    t = sub.add_parser("trap", help="one emulated request, step by step")
    t.add_argument("--request-bytes", type=int, default=P.REQUEST_BYTES.default)
    for prm in (P.DATA_MODE, P.DIRECTION, P.INTERRUPT_MODE):
        t.add_argument("--" + prm.name.replace("_", "-"), default=prm.default, choices=prm.choices)
    t.add_argument(
        "--pio-element-bytes",
        type=int,
        default=P.PIO_ELEMENT.default,
        choices=P.PIO_ELEMENT_SIZES,
        help=P.PIO_ELEMENT.doc,
    )
    t.add_argument("--profile", default=DEFAULT_PROFILE)
    t.set_defaults(func=_trap)
    p = sub.add_parser("profile", help="print a cost profile with units and sources")
    p.add_argument("name", nargs="?", default=DEFAULT_PROFILE)
    p.set_defaults(func=_profile)
    lb = sub.add_parser(
        "lab",
        help="run the KVM lab here: micro-benchmarks and the virtio / emulated grid "
        "('lab qemu': the QEMU lab, QEMU's own virtio-blk back end measured)",
    )
    lb.add_argument(
        "what",
        nargs="?",
        default="kvm",
        choices=("kvm", "qemu"),
        help="kvm (default): the KVM lab; qemu: drive QEMU's own virtio-blk through qtest, "
        "calibrate its back-end costs and compare the model's back-end half (under 3 min)",
    )
    lb.add_argument(
        "--json",
        metavar="FILE.json",
        type=_output_file(".json"),
        help="(lab qemu) also write the measurement as JSON",
    )
    lb.add_argument("--batch", type=_list(int), default=[1, 4, 16, 64])
    lb.add_argument("--request-bytes", type=_list(int), default=[64, 1500, 4096, 65536])
    lb.add_argument(
        "--variants",
        type=_list(str),
        default=["virtio", "virtio+irq", "virtio+iothread"],
        help="virtio variants of the grid: virtio (the kick's exit drains the "
        "ring, the guest polls), virtio+irq (completions by an MSI through "
        "an irqfd), virtio+iothread (ioeventfd kick, an I/O thread "
        "drains), virtio+iothread+irq",
    )
    lb.add_argument("--requests", type=int, default=20_000)
    lb.add_argument("--repeats", type=int, default=5)
    lb.add_argument("--ops", type=int, default=20_000, help="operations per micro-benchmark")
    lb.add_argument(
        "--save",
        metavar="FILE.json",
        type=_output_file(".json"),
        help="also write the measurement (micro-benchmarks, grid, calibrated profile) as JSON",
    )
    lb.add_argument(
        "--shipped",
        action="store_true",
        help="print the measurement shipped with virtmodel instead of measuring (no KVM needed)",
    )
    lb.set_defaults(func=_lab)
    cal = sub.add_parser(
        "calibrate",
        help="derive a cost profile from the KVM micro-benchmarks alone and save it as JSON",
    )
    cal.add_argument("--out", required=True, metavar="FILE.json", type=_output_file(".json"))
    cal.add_argument("--name", help="profile name (default: lab-<cpu>-<flavour>-<date>)")
    cal.add_argument("--ops", type=int, default=20_000, help="operations per benchmark")
    cal.add_argument("--repeats", type=int, default=5)
    cal.set_defaults(func=_calibrate)
    w = sub.add_parser("warm", help="compile the numba kernels into the cache (Binder postBuild)")
    w.set_defaults(func=_warm)
    return ap


def main(argv=None) -> int:
    """Run one command.  This is the CLI's one boundary for errors: a usage error, bad
    input (the models' ValueErrors name the parameter and its allowed range) or a file that
    cannot be read or written ends as one line on stderr and exit status 2, never a
    traceback."""
    ap = build_parser()
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except ValueError as e:
        problem = str(e)
    except OSError as e:
        problem = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
    except KeyboardInterrupt:
        ap.exit(130, "interrupted\n")
    ap.exit(2, f"{ap.prog} {args.cmd}: error: {_one_line(problem)}\n")


if __name__ == "__main__":
    sys.exit(main())
