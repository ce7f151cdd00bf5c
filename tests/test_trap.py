"""Trap-and-emulate: exact counts that follow from KVM's and QEMU's mechanisms."""

import re

import pytest

from virtmodel import costs, registers, trap
from virtmodel import params as P
from virtmodel.paths import get, simulate

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

BASE = dict(accesses_per_request=3, dma_setup_accesses=2, interrupts=True)


@pytest.mark.parametrize(
    "mode,direction,size,data_exits,copied",
    [
        ("pio", "write", 4096, 1024, 8192),  # 4 bytes per OUT, copied twice
        ("pio", "read", 5, 2, 10),
        # rep outs: KVM's emulator passes one element (4 B with outsl) per exit to user space
        ("string-pio", "write", 4096, 1024, 8192),
        ("string-pio", "write", 4097, 1025, 8194),
        # rep ins: KVM reads ahead at most its 1 KiB cache per exit
        ("string-pio", "read", 4096, 4, 8192),
        ("string-pio", "read", 4097, 5, 8194),
        ("string-pio", "read", 65536, 64, 131072),
        ("dma", "read", 65536, 0, 0),  # QEMU maps guest memory: no CPU copy
        ("string-pio", "write", 0, 0, 0),
    ],
)
def test_exact_counts(mode, direction, size, data_exits, copied):
    c = trap.counts(size, mode, direction=direction, **BASE)
    regs = 3 + (2 if mode == "dma" else 0)
    assert c.data_exits == data_exits
    assert c.user_exits == c.io_exits == regs + data_exits
    assert c.hlt_exits == 1 and c.eoi_exits == 0  # posted interrupts, edge: no EOI exit
    assert c.exits == regs + data_exits + 1
    assert c.decoded == (data_exits if mode == "string-pio" else 0)  # plain PIO: no decode
    assert c.context_switches == 2 * c.user_exits
    assert c.copied_bytes == copied
    assert c.interrupts == 1
    assert c.dma_pages == ((size + 4095) // 4096 if mode == "dma" else 0)
    assert sum(c.exits_by_reason.values()) == c.exits


@pytest.mark.parametrize(
    "mode,trigger,eoi",
    [
        ("posted", "edge", 0),
        ("pv-eoi", "edge", 0),
        ("legacy", "edge", 1),
        ("posted", "level", 1),
        ("pv-eoi", "level", 1),
        ("legacy", "level", 1),
    ],
)
def test_an_eoi_exits_without_apicv_or_for_a_level_triggered_vector(mode, trigger, eoi):
    c = trap.counts(4096, "dma", interrupt_mode=mode, irq_trigger=trigger)
    assert c.eoi_exits == eoi


def test_mmio_registers_are_decoded_port_registers_are_not():
    assert trap.counts(4096, "dma", mmio=True, **BASE).decoded == 5
    assert trap.counts(4096, "dma", mmio=False, **BASE).decoded == 0
    p = costs.MODERN
    gap = trap.request_ns(4096, "dma", mmio=True) - trap.request_ns(4096, "dma")
    assert gap == pytest.approx(5 * p.mmio_decode_ns)


@pytest.mark.parametrize("mode", trap.DATA_MODES)
@pytest.mark.parametrize("size", [0, 1, 4096, 10000])
@pytest.mark.parametrize("direction", trap.DIRECTIONS)
def test_steps_agree_with_counts(mode, size, direction):
    steps = trap.steps(size, mode, direction=direction)
    c = trap.counts(size, mode, direction=direction)
    vm_exits = sum(s.count for s in steps if s.what.startswith("VM exit"))
    entries = sum(s.count for s in steps if s.what == "VM entry")
    assert vm_exits == entries == c.user_exits
    assert sum(s.count for s in steps if "HLT" in s.what and s.stage == "exit_entry") == 1
    assert (
        sum(s.count for s in steps if s.stage == "context_switch" and "KVM_RUN" in s.what)
        == c.context_switches
    )


def test_the_vcpu_polls_a_short_wait_and_sleeps_through_a_long_one():
    fast = trap.steps(4096, "dma")  # the P4800X: ~9 us < 200 us window
    assert any(s.stage == "polling" for s in fast)
    slow = trap.steps(4096, "dma", profile=costs.MODERN.replace(device_ns_per_request=5e5))
    assert not any(s.stage == "polling" for s in slow)
    assert any("slept" in s.what for s in slow)
    assert not any(s.stage == "polling" for s in trap.steps(4096, "dma", halt_poll=False))
    # polling runs beside the device: CPU time, not latency
    assert trap.elapsed_ns(fast) < sum(trap.ns_by_stage(fast).values())


def test_dma_beats_string_pio_for_large_transfers_and_loses_for_tiny_ones():
    tiny, big = 4, 1 << 20  # one element: one exit, against DMA's two set-up exits
    t = {
        m: {s: trap.request_ns(s, m, direction="write") for s in (tiny, big)}
        for m in ("string-pio", "dma")
    }
    assert t["string-pio"][tiny] < t["dma"][tiny]  # DMA pays its set-up exits
    assert t["dma"][big] < t["string-pio"][big] / 100  # 262144 exits vs none


def test_the_crossover_of_a_write_by_rep_outs_is_a_few_bytes_not_pages():
    sizes = [4 << k for k in range(12)]
    at = trap.crossover_bytes(sizes, direction="write", dma_setup_accesses=2)
    assert at is not None and at <= 16  # two extra register writes = two 4-byte elements


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"data_mode": "mmio"}, "data_mode must be one of"),
        ({"direction": "sideways"}, "direction must be one of"),
        ({"interrupt_mode": "apicv"}, "interrupt_mode must be one of"),
        ({"irq_trigger": "both"}, "irq_trigger must be one of"),
        ({"nonsense": 1}, "the trap model takes no parameter nonsense; it takes request_bytes"),
    ],
)
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        trap.counts(**kw)


def test_the_real_register_sequences_give_the_drivers_counts():
    ide_dma = simulate("emulated", **registers.params(registers.IDE_DMA_READ), requests=10)
    assert ide_dma.exits_by_reason["io"] == 26  # 18 to issue + 8 in the handler
    ide_pio = simulate("emulated", **registers.params(registers.IDE_PIO_READ), requests=10)
    assert ide_pio.exits_by_reason["io"] == 27  # 13 + 6 + one rep insl per sector
    e1000 = simulate("emulated", **registers.params(registers.E1000_TX), requests=10)
    assert e1000.exits_by_reason["io"] == 6  # TDT + ICR, IMC, STATUS, IMS, STATUS
    assert e1000.exits_by_reason["eoi"] == 1  # INTx is level-triggered: even posted
    assert ide_dma.exits_by_reason["eoi"] == 0  # IRQ 14 is edge: posted, no EOI exit


def test_e1000_sends_inside_the_exit_and_copies_twice_ide_pio_takes_an_exit_per_sector():
    e1000 = simulate("emulated", **registers.params(registers.E1000_TX), requests=10)
    assert e1000.exits_by_reason["hlt"] == 0  # done before the TDT write's exit returns
    assert e1000.copied_bytes_per_request == 2 * 1500
    assert e1000.interrupts_per_request == 1
    c = trap.counts(4096, "string-pio", string_chunk_bytes=512)
    assert c.data_exits == 8  # one rep insl per 512 B sector, not one per KiB
    assert trap.counts(4096, "string-pio").data_exits == 4
    assert (
        trap.counts(4096, "string-pio", direction="write", string_chunk_bytes=512).data_exits
        == 1024
    )  # rep outs: per element


@pytest.mark.parametrize(
    "value,msg",
    [
        (0, "accesses_per_request must be in 1..256, got 0"),
        (257, "accesses_per_request must be in 1..256, got 257"),
        (2.5, "accesses_per_request must be an integer in 1..256, got 2.5"),
    ],
)
def test_a_request_takes_one_to_256_starting_accesses_in_the_model_and_the_path(value, msg):
    """The access that tells the device (a doorbell or command write) always traps, so a
    request has at least one; the trap model and the "emulated" path check the same
    declaration and say the same thing at both ends."""
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        trap.counts(accesses_per_request=value)
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        simulate("emulated", accesses_per_request=value, requests=10)
    assert trap.counts(accesses_per_request=1).register_accesses == 1 + 2  # + DMA setup
    assert trap.counts(accesses_per_request=256).register_accesses == 256 + 2


def test_the_emulated_path_takes_the_trap_models_declarations_with_their_defaults():
    path = get("emulated")
    for name, default in trap.DEFAULTS.items():
        assert path.param(name) is next(p for p in P.TRAP if p.name == name)
        assert path.param(name).default == default


# ---- string PIO: QEMU dispatches element by element (kvm_handle_io) -------------------------
@pytest.mark.parametrize(
    "element,chunk,exits,dispatches",
    [
        (2, 0, 4, 2048),  # 4 KiB rep insw: 4 exits of KVM's 1 KiB read-ahead, 2048 words
        (4, 512, 8, 1024),  # libata's insl, one 512 B sector per call: 8 exits of 128
        (1, 0, 4, 4096),  # rep insb (fw_cfg): 1024 dispatches per exit
    ],
)
def test_a_string_read_is_dispatched_element_by_element(element, chunk, exits, dispatches):
    kw = dict(BASE, pio_element_bytes=element, string_chunk_bytes=chunk)
    c = trap.counts(4096, "string-pio", **kw)
    assert c.data_exits == exits and c.decoded == exits
    assert c.dispatches == 3 + dispatches  # the register accesses, then every element
    p = costs.MODERN
    per_exit = p.emulate_access_ns + (dispatches // exits - 1) * p.pio_element_ns
    qemu = trap.ns_by_stage(trap.steps(4096, "string-pio", **kw))["qemu"]
    assert qemu == pytest.approx(3 * p.emulate_access_ns + exits * per_exit + p.signal_ns)


def test_one_element_exits_dispatch_once_and_cost_what_they_did():
    """pio and rep outs carry one element per exit: one dispatch, no per-element charge."""
    for mode, direction in (("pio", "read"), ("pio", "write"), ("string-pio", "write")):
        c = trap.counts(4096, mode, direction=direction, pio_element_bytes=2, **BASE)
        assert c.data_exits == 2048 and c.dispatches == 3 + 2048
        st = trap.steps(4096, mode, direction=direction, **BASE)
        assert not any("elements one by one" in s.what for s in st)
    # the profile's per-element cost moves a string read and nothing else
    dear = costs.MODERN.replace(pio_element_ns=1000.0)
    for mode in trap.DATA_MODES:
        gap = trap.request_ns(4096, mode, profile=dear) - trap.request_ns(4096, mode)
        want = 4 * 255 * (1000.0 - costs.MODERN.pio_element_ns) if mode == "string-pio" else 0
        assert gap == pytest.approx(want), mode


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"pio_element_bytes": 3}, r"pio_element_bytes must be 1, 2 or 4 \(the operand"),
        ({"pio_element_bytes": 8}, "got 8"),
        ({"pio_element_bytes": True}, "got True"),
        ({"pio_element_bytes": 2.0}, "got 2.0"),
        (
            {"pio_element_bytes": 4, "string_chunk_bytes": 510},
            r"string_chunk_bytes must be a multiple of pio_element_bytes \(4 B\)",
        ),
    ],
)
def test_a_bad_element_size_is_a_clear_error(kw, msg):
    with pytest.raises(ValueError, match=msg):
        trap.counts(4096, "string-pio", **kw)
    with pytest.raises(ValueError, match=msg):
        simulate("emulated", data_mode="string-pio", requests=5, **kw)


def test_fw_cfg_string_reads_run_near_the_published_rate():
    """[Multiboot2021]: P. Bonzini measured 15-20 MiB/s for fw_cfg's rep insb (KVM, a
    laptop); per-element dispatch is what holds it there (per exit alone: ~15x faster)."""
    rate = trap.fw_cfg_rate()
    assert 10 < rate / 2**20 < 40
    exits_only = trap.fw_cfg_rate(costs.MODERN.replace(pio_element_ns=0.0))
    assert exits_only > 8 * rate


# ---- what the host's KVM does: IN on 2012 hosts, fast MMIO on VMX ---------------------------
def test_a_2012_host_decodes_every_in_and_no_out():
    old = costs.LEGACY_2012
    read = trap.counts(4096, "pio", profile=old, **BASE)
    assert read.data_exits == read.decoded == 1024
    assert trap.counts(4096, "pio", profile="modern", **BASE).decoded == 0
    assert trap.counts(4096, "pio", direction="write", profile=old, **BASE).decoded == 0
    decoded = old.replace(fast_pio_in=True)
    gap = trap.request_ns(4096, "pio", profile=old) - trap.request_ns(4096, "pio", profile=decoded)
    assert gap == pytest.approx(1024 * old.mmio_decode_ns)
    st = trap.steps(4096, "pio", profile=old)
    assert sum(s.count for s in st if "decodes" in s.what) == 1024


def test_an_mmio_kick_is_decoded_without_fast_mmio_and_a_port_kick_never():
    from virtmodel.paths import ringpath

    vmx = costs.MODERN
    svm = vmx.replace(fast_mmio=False)
    kvm = ringpath.stage_vec(kvm=1.0).argmax()
    assert ringpath.ioeventfd_kick(vmx, "mmio")[0][kvm] == vmx.kvm_exit_ns
    assert ringpath.ioeventfd_kick(svm, "mmio")[0][kvm] == vmx.kvm_exit_ns + vmx.mmio_decode_ns
    assert ringpath.ioeventfd_kick(svm, "pio")[0][kvm] == vmx.kvm_exit_ns
    a, b = (
        simulate("virtio", profile=p, batch=1, requests=400).mean_latency_ns for p in (vmx, svm)
    )
    assert b - a == pytest.approx(vmx.mmio_decode_ns, rel=0.02)


def test_the_profiles_say_which_kvm_they_stand_for():
    assert costs.MODERN.fast_pio_in and costs.MODERN.fast_mmio  # Cascade Lake: VMX
    assert not costs.LEGACY_2012.fast_pio_in and not costs.LEGACY_2012.fast_mmio
    for name, prof in costs.PROFILES.items():
        for f in ("pio_element_ns", "fast_pio_in", "fast_mmio"):
            assert prof.sources[f]["source"], (name, f)
    if costs.MEASURED:  # the lab's host is PVM on AMD: no fast MMIO
        assert not costs.PROFILES[costs.MEASURED].fast_mmio
    with pytest.raises(ValueError, match="fast_mmio must be True or False, got 1"):
        costs.MODERN.replace(fast_mmio=1)
