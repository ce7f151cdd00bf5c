"""Ring state declared once: every layout's private-state slots are declared by name per
side, given indices by code, and checked at import; the constants are named after their
side and slot, so a name means one thing in every layout."""

import re

import pytest

from virtmodel import packed, ringmem, split
from virtmodel.ringmem import ARRAYS, COMMON, DEVICE, DRIVER, Slot, State

pytestmark = pytest.mark.model

LAYOUTS = {"split": split, "packed": packed}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_constant_is_the_slot_its_name_says(layout):
    """DRV_X / DEV_X is the driver's / device's slot "x" (an array's number for arrays), in
    the common declaration and in the layout's; so DEV_NEXT_AVAIL is the device's
    next_avail in both layouts, and the packed driver's is DRV_NEXT_AVAIL."""
    mod = LAYOUTS[layout]
    slots = {(s.side, s.name): s for s in mod.STATE.slots}
    checked = 0
    for source in (ringmem, mod):
        for name, value in vars(source).items():
            m = re.fullmatch(r"(DRV|DEV)_([A-Z_]+)", name)
            if m:
                side = DRIVER if m[1] == "DRV" else DEVICE
                assert slots[side, m[2].lower()].start == value, name
                checked += 1
    assert checked >= len(mod.STATE.slots)
    assert not hasattr(mod, "NEXT_AVAIL")  # no slot constant without its side


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_keep_the_common_slots_where_the_interface_reads_them(layout):
    state = LAYOUTS[layout].STATE
    assert state.slots[: len(COMMON.slots)] == COMMON.slots
    cells = [i for s in state.slots if s.width for i in range(s.start, s.start + s.width)]
    assert len(cells) == len(set(cells)) and max(cells) < ARRAYS
    assert state.check() is state


def test_the_check_fires_on_an_overlapping_declaration():
    s = State("bad", COMMON)
    s.device("next_avail")
    s.slots.append(Slot(DEVICE, "next_used", ringmem.DRV_NUM_FREE, 1))  # a hand-numbered slot
    with pytest.raises(
        ValueError, match="bad: device slot 'next_used' overlaps driver slot 'num_free'"
    ):
        s.check()
    wide = State("wide", COMMON)
    wide.slots.append(Slot(DRIVER, "shadow", ringmem.DRV_BROKEN + 1, 1))  # the broken detail
    with pytest.raises(ValueError, match="overlaps driver slot 'broken'"):
        wide.check()


def test_the_check_fires_when_scalars_reach_the_arrays_or_a_name_repeats():
    s = State("long", COMMON)
    while max(x.start + x.width for x in s.slots) < ARRAYS:
        s.device(f"x{len(s.slots)}")
    s.check()  # exactly full
    s.driver("one_too_many")
    with pytest.raises(ValueError, match="outside the scalar slots 0..31"):
        s.check()
    twice = State("twice", COMMON)
    twice.driver("num_free")
    with pytest.raises(ValueError, match="driver slot 'num_free' is declared twice"):
        twice.check()
    both = State("both", COMMON)
    both.driver("next_avail")
    both.device("next_avail")  # one name on each side: two slots
    assert both.check().slots[-1].start == both.slots[-2].start + 1


def test_arrays_follow_the_scalars_by_number():
    s = State("arrays", COMMON)
    k = s.device_array("held")
    assert k == len(COMMON.arrays()) and s.size(5) == ARRAYS + (k + 1) * 5
    s.slots.append(Slot(DEVICE, "other", k, 0))  # the same array number twice
    with pytest.raises(ValueError, match="overlaps device slot 'held'"):
        s.check()
