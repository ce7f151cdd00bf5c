"""Trap-and-emulate: exact counts that follow from the mechanism."""

import pytest

from virtmodel import trap


@pytest.mark.parametrize("mode,size,data_exits,copied", [
    ("pio", 4096, 1024, 8192),          # 4 bytes per OUT, each copied twice
    ("pio", 5, 2, 10),
    ("string-pio", 4096, 1, 8192),      # one page per rep outs
    ("string-pio", 4097, 2, 8194),
    ("string-pio", 65536, 16, 131072),
    ("dma", 65536, 0, 65536),           # QEMU writes guest memory once
    ("string-pio", 0, 0, 0),
])
def test_exact_counts(mode, size, data_exits, copied):
    c = trap.counts(size, mode, accesses_per_request=3, dma_setup_accesses=2)
    regs = 3 + (2 if mode == "dma" else 0)
    assert c.data_exits == data_exits
    assert c.user_exits == regs + data_exits
    assert c.exits == regs + data_exits + 1            # + the EOI
    assert c.context_switches == 2 * c.user_exits
    assert c.copied_bytes == copied
    assert c.interrupts == 1
    assert c.dma_pages == ((size + 4095) // 4096 if mode == "dma" else 0)


@pytest.mark.parametrize("mode", trap.DATA_MODES)
@pytest.mark.parametrize("size", [0, 1, 4096, 10000])
def test_steps_agree_with_counts(mode, size):
    steps = trap.steps(size, mode)
    c = trap.counts(size, mode)
    vm_exits = sum(s.count for s in steps if s.what.startswith("VM exit"))
    entries = sum(s.count for s in steps if s.what == "VM entry")
    assert vm_exits == entries == c.user_exits
    assert sum(s.count for s in steps if s.stage == "context_switch") == c.context_switches
    assert any("EOI" in s.what for s in steps)


def test_dma_beats_string_pio_for_large_transfers_and_loses_for_tiny_ones():
    tiny, big = 64, 1 << 20
    t = {m: {s: trap.stage_ns(trap.steps(s, m)).sum() for s in (tiny, big)}
         for m in ("string-pio", "dma")}
    assert t["string-pio"][tiny] < t["dma"][tiny]    # DMA pays its set-up exits
    assert t["dma"][big] < t["string-pio"][big] / 5  # 256 data exits, 2 copies vs none, 1


@pytest.mark.parametrize("kw,msg", [
    ({"request_bytes": -1}, "request_bytes must be in 0..16777216"),
    ({"data_mode": "mmio"}, "data_mode must be one of"),
    ({"accesses_per_request": 0}, "accesses_per_request must be in 1..64"),
    ({"dma_setup_accesses": 17}, "dma_setup_accesses must be in 0..16"),
])
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        trap.counts(**kw)
