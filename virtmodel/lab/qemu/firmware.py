"""QEMU running a guest of ours: a firmware image whose CPU really executes.

Under qtest (``-S``) the guest CPU never runs, and a port access costs far more in the
qtest protocol than in the device model behind it: what one emulated register access
costs QEMU cannot be resolved that way.  Here QEMU boots :func:`rom`, a 64 KiB ``-bios``
image holding ``guests/ide_pio.S`` (real mode, entered from the reset vector; no SeaBIOS
runs), under TCG or KVM.  The program drives the ``pc`` machine's legacy IDE disk ``count``
times in one of :data:`MODES`, writes what it saw to guest RAM, and halts with interrupts
off, so its vCPU thread sleeps; the vCPU thread's time on CPU
(``/proc/PID/task/TID/schedstat``, thread ``CPU 0/TCG`` or ``CPU 0/KVM``) is then what
the run cost.  The ``read`` mode checks the sectors' 16-bit sum and ends QEMU through
``isa-debug-exit`` with the verdict in its exit status.

Parameters reach the program in the ROM's parameter block (data, not code), before its
first instruction; RAM is shared with this process (:class:`~.process.Qemu`), so the
results are read there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import struct
import tempfile
import time
from dataclasses import dataclass

from ..guests import CODE
from .process import Qemu, QemuError

MODES = ("baseline", "status", "identify", "check_power", "read")
"""``baseline``: an empty loop of ``count`` iterations; ``status``: ``count`` reads of the
status register (port 0x1f7), one ``in`` each; ``identify``: ``count`` IDENTIFY DEVICE
commands, each moving its 256 words with one ``rep insw``; ``check_power``: ``count``
CHECK POWER MODE commands (the same two register writes, no data phase); ``read``: READ
SECTORS of ``count`` sectors one at a time, DRQ polled, the data by ``rep insw``."""
ROM_BYTES = 64 << 10  # QEMU's -bios image: a multiple of 64 KiB, mapped below 1 MiB too
ENTRY = 0x100  # the code's offset in the ROM (F000:0100)
RESULT = 0x500  # "DONE", status polls (u32), checksum (u16), sector count register (u16)
BUFFER = 0x8000  # the last command's data
DONE = b"DONE"
EXIT_PORT = 0xF4
IDENTIFY_WORDS = 256
VCPU = {"tcg": "CPU 0/TCG", "kvm": "CPU 0/KVM"}
EXIT_EVENT = "kvm_run_exit"  # QEMU's trace event for each return from KVM_RUN


def rom(mode: str, count: int, lba: int = 0, checksum: int = 0) -> bytes:
    """The 64 KiB firmware image that runs ``mode`` ``count`` times (``read``: from sector
    ``lba``, expecting the 16-bit sum ``checksum`` of all words read)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not (isinstance(count, int) and 1 <= count <= 1 << 31):
        raise ValueError(f"count must be in 1..2**31, got {count!r}")
    if not 0 <= lba < 1 << 28:
        raise ValueError(f"lba must be in 0..2**28-1, got {lba}")
    image = bytearray(ROM_BYTES)
    image[0:14] = struct.pack("<HHIIH", MODES.index(mode), 0, count, lba, checksum & 0xFFFF)
    code = CODE["ide_pio"]
    image[ENTRY : ENTRY + len(code)] = code
    image[0xFFF0:0xFFF5] = bytes([0xEA, ENTRY & 0xFF, ENTRY >> 8, 0x00, 0xF0])  # jmp F000:0100
    return bytes(image)


def checksum(data: bytes) -> int:
    """The program's checksum: the 16-bit sum of the little-endian words of ``data``."""
    return sum(struct.unpack(f"<{len(data) // 2}H", data)) & 0xFFFF


@dataclass(frozen=True)
class GuestRun:
    """What one run of the program did: its vCPU thread's time on CPU when it halted
    (None when it ended QEMU), its status polls, checksum, the sector count register after
    its last command, QEMU's exit status (None: still running when read) and the last
    command's 512 bytes of data."""

    mode: str
    count: int
    accel: str
    vcpu_ns: int | None
    polls: int
    checksum: int
    nsector: int
    exit_status: int | None
    data: bytes
    exits: int | None = None  # with count_exits: QEMU's kvm_run_exit trace events (KVM)


def run(
    mode: str,
    count: int,
    accel: str = "tcg",
    disk: str | None = None,
    lba: int = 0,
    expect: int = 0,
    timeout: float = 60.0,
    count_exits: bool = False,
) -> GuestRun:
    """Boot QEMU (``pc`` machine, ``accel``) on :func:`rom` with an IDE disk (the file
    ``disk``, raw, or a null-co disk of zeroes) and wait until the program is done;
    ``count_exits`` (KVM only) counts the exits QEMU handled (tracing costs CPU: a
    counted run is not a timed one)."""
    if accel not in VCPU:
        raise ValueError(f"accel must be one of {tuple(VCPU)}, got {accel!r}")
    if count_exits and accel != "kvm":
        raise ValueError(f"count_exits needs accel='kvm' (TCG has no exits), got {accel!r}")
    image = rom(mode, count, lba, expect)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="virtmodel-qemu-rom-", dir=shm)
    try:
        os.write(fd, image)
        os.close(fd)
        node = (
            f"driver=null-co,node-name=d0,size={1 << 30},read-zeroes=on"
            if disk is None
            else f"driver=file,node-name=d0,filename={disk},aio=threads"
        )
        args = [
            "-bios",
            path,
            "-blockdev",
            node,
            "-device",
            "ide-hd,drive=d0,bus=ide.0,unit=0",
            "-device",
            f"isa-debug-exit,iobase={EXIT_PORT:#x},iosize=4",
        ]
        trace = (EXIT_EVENT,) if count_exits else ()
        with Qemu(
            args,
            ram_mb=16,
            machine="pc",
            paused=False,
            accel=accel,
            deadline=timeout + 30,
            trace=trace,
        ) as q:
            done = _wait(q, mode, count, accel, timeout)
            if not count_exits:
                return done
            time.sleep(0.05)  # the trace file catches up
            exits = sum(n for (event, _), n in q.trace_counts().items() if event == EXIT_EVENT)
            return dataclasses.replace(done, exits=exits)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _wait(q: Qemu, mode: str, count: int, accel: str, timeout: float) -> GuestRun:
    end = time.monotonic() + timeout
    assert q.proc is not None
    while bytes(q.mem[RESULT : RESULT + 4]) != DONE:
        if q.proc.poll() is not None:
            raise QemuError(f"QEMU ended (status {q.proc.returncode}) before the guest was done")
        if time.monotonic() > end:
            raise QemuError(f"the guest ({mode} x {count}, {accel}) was not done in {timeout:g} s")
        time.sleep(1e-3)
    status = None
    if mode == "read":
        status = q.proc.wait(timeout=10)  # it writes its verdict to isa-debug-exit
        vcpu = None
    else:
        time.sleep(2e-3)  # from its report to its halt: a few instructions
        vcpu = q.thread_cpu_ns().get(VCPU[accel])
        if vcpu is None:
            raise QemuError(f"no {VCPU[accel]} thread in QEMU (threads: {q.thread_cpu_ns()})")
    polls, csum, nsector = struct.unpack("<IHH", bytes(q.mem[RESULT + 4 : RESULT + 12]))
    return GuestRun(
        mode,
        count,
        accel,
        vcpu,
        polls,
        csum,
        nsector,
        status,
        bytes(q.mem[BUFFER : BUFFER + 512]),
    )
