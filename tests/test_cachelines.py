"""Cache lines moved between the driver's and the device's cores: the counting rule, and
exact counts in tiny rings that can be checked by hand."""

import pytest

from virtmodel import cachelines
from virtmodel.cachelines import count_transfers

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off


def test_a_line_moves_when_the_other_side_wrote_it_last():
    line = lambda o: (0, o // 64)
    ops = [
        ("driver", "w", [], [0]),  # the driver writes line 0: nothing moves
        ("device", "r", [8], []),  # the device reads it: 1
        ("device", "r", [16], []),  # again: it already holds the latest copy
        ("device", "w", [], [4]),  # it writes it: it holds it (no data moves)
        ("driver", "r", [0, 70], []),  # the driver reads line 0 (1) and line 1 (never
        # written: 0)
        ("driver", "w", [], [1]),  # writes what it holds: 0
        ("driver", "r", [], []),
        ("device", "rw", [2], [3]),  # read and write in one operation: one move
    ]
    assert count_transfers(ops, line) == [0, 1, 0, 0, 1, 0, 0, 1]


def test_packed_ring_one_request_per_batch_moves_four_lines():
    """Each side polls one line the other wrote: the device event structure (kick_prepare),
    the descriptor (pop), the driver event structure (should_interrupt), the used
    descriptor (get_used).  Linux allocates the two event structures apart, so they are
    two lines."""
    for event_idx in (False, True):
        for q in (3, 4):
            r = cachelines.table(("packed",), q, event_idx, (1,))[0]
            assert r["lines_per_request"] == 4.0
            assert {k: v for k, v in r["by_operation"].items() if v} == {
                "kick_prepare": 1.0,
                "pop": 1.0,
                "should_interrupt": 1.0,
                "get_used": 1.0,
            }
            assert r["to_driver_per_request"] == r["to_device_per_request"] == 2.0


def test_packed_batch_shares_the_descriptor_line():
    # 4 descriptors of 16 bytes fill one line: a batch of 4 moves each line once
    r = cachelines.table(("packed",), 4, True, (2, 4))
    assert [x["lines_per_request"] for x in r] == [2.0, 1.0]


def test_split_ring_of_four_moves_three_lines_per_request():
    """Queue size 4: descriptor table (line 0), available ring with used_event (line 1) and
    used ring with avail_event (line 64) are one line each.  The device reads the available
    ring and the descriptor (2), the driver the used ring (1); the event indices ride on
    lines the reader already fetched."""
    r = cachelines.table(("split",), 4, True, (1, 4))
    assert [x["lines_per_request"] for x in r] == [3.0, 0.75]
    assert {k: v for k, v in r[0]["by_operation"].items() if v} == {"pop": 2.0, "get_used": 1.0}


def test_queue_256_table_and_cost():
    r = {(x["ring"], x["batch"]): x["lines_per_request"] for x in cachelines.table(batches=(1, 64))}
    assert r["packed", 1] == 4.0
    # split at batch 1: descriptor, avail idx/ring, used_event, used ring lines, with
    # ring entries shared between consecutive requests (not an integer)
    assert 6.5 < r["split", 1] < 7.5
    assert r["packed", 64] < 1 and r["split", 64] < 1
    assert cachelines.LINE_TRANSFER_NS["host"].startswith("Intel Core i7-9700K")


def test_bad_arguments():
    with pytest.raises(ValueError, match="rings must name rings"):
        cachelines.table(("ring",))
    with pytest.raises(ValueError, match="batch must be in 1..4"):
        cachelines.table(("packed",), 4, True, (5,))
    with pytest.raises(ValueError, match="queue_size must be a power of two"):
        cachelines.table(("split",), 6, True, (1,))
