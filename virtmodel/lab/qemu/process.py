"""One QEMU process in qtest mode, as a guest driver sees it.

``qemu-system-x86_64 -qtest stdio -S``: the guest's CPU never runs (``-S``), and this
program plays the guest (with ``paused=False`` a firmware image of ours runs instead, and
qtest only keeps QEMU's RAM shared: :mod:`~virtmodel.lab.qemu.firmware`): it sends qtest commands (QEMU's ``docs/devel/qtest.rst``: port and
MMIO accesses) on QEMU's stdin and reads the answers (``OK ...`` / ``FAIL ...``) from its
stdout.  Guest RAM is a ``memory-backend-file`` shared with this process (an mmap of a file
on tmpfs, unlinked as soon as both sides have it open), so rings and buffers are read and
written directly, costing QEMU nothing; only device accesses go through qtest.

Every run is bounded: QEMU runs in its own process group; a watchdog thread kills it when
the run's deadline passes, a command whose answer does not come within ``timeout`` seconds
kills it too (:class:`QemuTimeout`), and :meth:`Qemu.close` (a ``with`` block calls it)
kills it by its PID and removes the temporary directory, so nothing outlives a run.

QEMU's threads are named (``-name debug-threads=on``: ``IO <id>`` for an IOThread,
``CPU 0/TCG``, ``worker`` for the thread pool); :meth:`Qemu.thread_cpu_ns` reads each one's
time on CPU from ``/proc/PID/task/TID/schedstat``.  Trace events (``trace=``) go to a file
(``-trace NAME -D FILE``, the "log" back end; ``-msg timestamp=on`` puts the thread id on
each line) and :meth:`Qemu.trace_counts` counts them.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import mmap
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

BINARY = "qemu-system-x86_64"


class QemuUnavailable(RuntimeError):
    """QEMU cannot be run here (not installed, or it failed to start); the message says why."""


class QemuError(RuntimeError):
    """QEMU answered FAIL, exited, or reported an error; the message carries its words."""


class QemuTimeout(QemuError):
    """QEMU did not answer in time; it has been killed."""


def binary() -> str | None:
    """The path of ``qemu-system-x86_64``, or None."""
    return shutil.which(BINARY)


def version() -> str:
    """QEMU's version line, e.g. ``QEMU emulator version 7.2.22 (Debian ...)``."""
    exe = binary()
    if exe is None:
        raise QemuUnavailable(f"{BINARY} is not installed (apt-get install qemu-system-x86)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()[0].strip()


@dataclass(frozen=True)
class Thread:
    """One QEMU thread: its id, its name and its time on CPU (ns) when read."""

    tid: int
    name: str
    cpu_ns: int


class Qemu:
    """A QEMU process in qtest mode with ``ram_mb`` MiB of shared guest RAM.

    Parameters
    ----------
    args : list of str
        Device options (``-device``, ``-blockdev``, ``-object iothread``, ...).
    ram_mb : int
        Guest RAM (MiB), 16..1024.
    trace : list of str
        Trace event names or globs to log (empty: no tracing, which costs QEMU nothing).
    timeout : float
        Seconds a command may wait for its answer (0.1..600).
    deadline : float
        Seconds the whole process may live (the watchdog kills it then), 1..3600.
    machine : str
        ``q35`` (PCIe, the default) or ``pc`` (i440FX with the legacy IDE ports).
    paused : bool
        True (the default): ``-S``, the guest CPU never runs and this program is the
        driver.  False: the guest runs from power-on (a firmware image given with
        ``-bios`` in ``args``), and qtest stays the channel for reading its RAM.
    accel : str
        ``tcg`` or ``kvm`` (``-accel``); None: QEMU's choice (TCG with qtest).
    """

    def __init__(
        self,
        args: list[str],
        ram_mb: int = 64,
        trace: tuple[str, ...] | list[str] = (),
        timeout: float = 20.0,
        deadline: float = 300.0,
        machine: str = "q35",
        paused: bool = True,
        accel: str | None = None,
    ):
        if not (isinstance(ram_mb, int) and 16 <= ram_mb <= 1024):
            raise ValueError(f"ram_mb must be an integer in 16..1024, got {ram_mb!r}")
        if not 0.1 <= timeout <= 600:
            raise ValueError(f"timeout must be in 0.1..600 s, got {timeout!r}")
        if not 1 <= deadline <= 3600:
            raise ValueError(f"deadline must be in 1..3600 s, got {deadline!r}")
        if machine not in ("q35", "pc"):
            raise ValueError(f"machine must be 'q35' or 'pc', got {machine!r}")
        if accel not in (None, "tcg", "kvm"):
            raise ValueError(f"accel must be None, 'tcg' or 'kvm', got {accel!r}")
        exe = binary()
        if exe is None:
            raise QemuUnavailable(f"{BINARY} is not installed (apt-get install qemu-system-x86)")
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.ram: mmap.mmap | None = None
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = Path(tempfile.mkdtemp(prefix="virtmodel-qemu-", dir=shm))
        self.trace_file = self.dir / "trace.log"
        self._trace_pos = 0
        self._buf = b""
        self._killed_by = ""
        self._done = threading.Event()
        try:
            ram_path = self.dir / "ram"
            cmd = [
                exe,
                "-machine",
                f"{machine},memory-backend=ram",
                "-object",
                f"memory-backend-file,id=ram,size={ram_mb}M,mem-path={ram_path},share=on",
                "-m",
                f"{ram_mb}M",
                "-qtest",
                "stdio",
                "-qtest-log",
                "/dev/null",
                "-display",
                "none",
                "-nodefaults",
                "-name",
                "debug-threads=on",
                "-msg",
                "timestamp=on",
                *(["-S"] if paused else []),
                *(["-accel", accel] if accel else []),
            ]
            for ev in trace:
                cmd += ["-trace", ev]
            if trace:
                cmd += ["-D", str(self.trace_file)]
            self.stderr = open(self.dir / "stderr", "wb+")  # noqa: SIM115 (closed in close())
            self.proc = subprocess.Popen(
                [*cmd, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                start_new_session=True,  # its own process group
                bufsize=0,
            )
            self.pid = self.proc.pid
            threading.Thread(target=self._watchdog, args=(deadline,), daemon=True).start()
            self.command("readb 0x0")  # QEMU is up: the RAM file exists
            fd = os.open(ram_path, os.O_RDWR)
            try:
                self.ram = mmap.mmap(fd, ram_mb << 20)
            finally:
                os.close(fd)
            ram_path.unlink()  # both sides have it mapped; nothing to leak
            self.mem = np.frombuffer(self.ram, dtype=np.uint8)
        except BaseException:
            self.close()
            raise

    # -- life --
    def _watchdog(self, deadline: float) -> None:
        if not self._done.wait(deadline):
            self._kill(f"the run's deadline of {deadline:g} s passed")

    def _kill(self, why: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._killed_by = why
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # QEMU leads its own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill QEMU (by its PID), reap it, release the RAM mapping and the files."""
        self._done.set()
        if self.proc is not None:
            self._kill("closed")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        if getattr(self, "mem", None) is not None:
            del self.mem
        if self.ram is not None:
            with contextlib.suppress(BufferError):  # a view still held: the GC frees it
                self.ram.close()
            self.ram = None
        if getattr(self, "stderr", None) is not None:
            self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def errors(self) -> str:
        """What QEMU wrote on stderr so far."""
        try:
            return (self.dir / "stderr").read_text(errors="replace").strip()
        except OSError:
            return ""

    # -- qtest --
    def command(self, line: str) -> str:
        """Send one qtest command; return its answer after ``OK`` (asynchronous ``IRQ``
        lines are skipped).  ``FAIL`` raises :class:`QemuError`; no answer within
        ``timeout`` kills QEMU and raises :class:`QemuTimeout`."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(line.encode() + b"\n")
        except (BrokenPipeError, OSError) as e:
            raise self._gone(line) from e
        end = time.monotonic() + self.timeout
        out = self.proc.stdout
        assert out is not None
        while True:
            while b"\n" in self._buf:
                answer, self._buf = self._buf.split(b"\n", 1)
                text = answer.decode(errors="replace").strip()
                if text.startswith("IRQ"):
                    continue
                if text.startswith("OK"):
                    return text[2:].strip()
                raise QemuError(f"QEMU answered {text!r} to {line!r}")
            left = end - time.monotonic()
            if left <= 0:
                self._kill(f"no answer to {line!r} within {self.timeout:g} s")
                raise QemuTimeout(f"QEMU did not answer {line!r} within {self.timeout:g} s")
            ready, _, _ = select.select([out], [], [], left)
            if ready:
                chunk = os.read(out.fileno(), 65536)
                if not chunk:
                    raise self._gone(line)
                self._buf += chunk

    def _gone(self, line: str) -> QemuError:
        why = self._killed_by or f"exit status {self.proc.poll() if self.proc else None}"
        err = self.errors()
        return QemuError(f"QEMU is gone ({why}) at {line!r}" + (f": {err[-500:]}" if err else ""))

    def out(self, width: int, port: int, value: int) -> None:
        """A port store of ``width`` bytes (1, 2, 4)."""
        self.command(f"out{_SUFFIX[width]} {port:#x} {value:#x}")

    def inp(self, width: int, port: int) -> int:
        """A port load of ``width`` bytes (1, 2, 4)."""
        return int(self.command(f"in{_SUFFIX[width]} {port:#x}"), 0)

    def write(self, width: int, addr: int, value: int) -> None:
        """An MMIO (or RAM) store of ``width`` bytes (1, 2, 4, 8) through QEMU."""
        self.command(f"write{_SUFFIX[width]} {addr:#x} {value:#x}")

    def read(self, width: int, addr: int) -> int:
        return int(self.command(f"read{_SUFFIX[width]} {addr:#x}"), 0)

    def write_bytes(self, addr: int, data: bytes) -> None:
        """A bulk store through QEMU's memory API (``b64write``)."""
        self.command(f"b64write {addr:#x} {len(data)} {base64.b64encode(data).decode()}")

    # -- what QEMU did --
    def threads(self) -> list[Thread]:
        """Every QEMU thread with its name and time on CPU so far (ns)."""
        out = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
                ns = int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue  # the thread ended meanwhile
            out.append(Thread(int(task.name), name, ns))
        return out

    def thread_cpu_ns(self) -> dict[str, int]:
        """Time on CPU (ns) so far, summed by thread name."""
        total: Counter[str] = Counter()
        for t in self.threads():
            total[t.name] += t.cpu_ns
        return dict(total)

    def trace_events(self) -> list[tuple[str, str, str]]:
        """Trace events logged since the last call: ``(event, thread name, arguments)``
        (a thread that has ended is named ``"?"``)."""
        names = {t.tid: t.name for t in self.threads()}
        if not self.trace_file.exists():
            return []
        with open(self.trace_file, "rb") as f:
            f.seek(self._trace_pos)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._trace_pos += end
        out = []
        for raw in data[:end].splitlines():
            head, _, rest = raw.decode(errors="replace").partition(":")
            tid, _, _ = head.partition("@")
            event, _, args = rest.partition(" ")
            if event and tid.isdigit():
                out.append((event, names.get(int(tid), "?"), args))
        return out

    def trace_counts(self) -> Counter:
        """Trace events logged since the last call, counted by ``(event, thread name)``."""
        return Counter((event, thread) for event, thread, _ in self.trace_events())

    def eventfds(self) -> set[int]:
        """QEMU's eventfd descriptors (their numbers in QEMU)."""
        out = set()
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self.pid}/fd/{fd}") == "anon_inode:[eventfd]":
                    out.add(int(fd))
        return out

    def borrow_fd(self, fd: int) -> int:
        """A copy of QEMU's descriptor ``fd`` in this process (``pidfd_getfd``, Linux 5.6;
        needs ptrace rights over QEMU, which a parent has)."""
        pidfd = os.pidfd_open(self.pid)
        try:
            mine = _LIBC.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
            if mine < 0:
                err = ctypes.get_errno()
                raise QemuUnavailable(
                    f"pidfd_getfd of QEMU's fd {fd} failed: {os.strerror(err)} "
                    "(needs Linux 5.6+ and ptrace rights over QEMU)"
                )
            return mine
        finally:
            os.close(pidfd)


_FENCE = threading.Lock()


def full_barrier() -> None:
    """A full memory barrier between this thread's stores to guest RAM and its next loads
    (Linux's ``virtio_mb``): acquiring and releasing a lock runs a locked instruction,
    which on x86 drains the store buffer.  A driver that publishes an index and then reads
    the device's event index needs it, or both sides may miss each other's write (the
    device sleeps on an index the driver thinks it has seen: a lost kick)."""
    with _FENCE:
        pass


SYS_PIDFD_GETFD = 438  # the same number on every architecture (Linux 5.6)
_LIBC = ctypes.CDLL(None, use_errno=True)
_SUFFIX = {1: "b", 2: "w", 4: "l", 8: "q"}
