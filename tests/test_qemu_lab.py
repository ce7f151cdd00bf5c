"""The QEMU lab's driver against QEMU's own device models: data comes back as the back end
holds it, writes land, counts are exact, a QEMU that stops answering is killed, and no
QEMU process or temporary file outlives a test.

These assert data, counts and invariants, never timings.  Without qemu-system-x86_64 they
skip with the reason (and fail the run in CI: conftest.py turns a skip into a failure
there; CI installs QEMU with ``python3 dev.py test``)."""

import os
import signal
import time
from pathlib import Path

import pytest

from virtmodel.lab import qemu
from virtmodel.lab.qemu import Qemu, QemuError, QemuTimeout, Request, VirtioBlk

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(qemu.binary() is None, reason="QEMU: qemu-system-x86_64 not installed"),
]

NULL = ["-blockdev", "driver=null-co,node-name=d0,size=1073741824,read-zeroes=on"]


def _device(iothread=False):
    extra = ",iothread=io0" if iothread else ""
    return (["-object", "iothread,id=io0"] if iothread else []) + [
        "-device",
        f"virtio-blk-pci,drive=d0,addr=04.0{extra}",
    ]


def _file(path, aio):
    return ["-blockdev", f"driver=file,node-name=d0,filename={path},aio={aio},cache.direct=on"]


@pytest.fixture
def disk(tmp_path_factory):
    d = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("disk")
    path = d / f"virtmodel-test-disk-{os.getpid()}"
    path.write_bytes(bytes(range(256)) * 4 * 1024)  # 1 MiB: byte k holds k % 256
    yield path
    path.unlink()


def _qemu_children():
    """PIDs of qemu-system processes whose parent is this test process."""
    me, out = str(os.getpid()), []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = stat[stat.rindex(")") + 2 :].split()[1]
        if name.startswith("qemu-system") and ppid == me:
            out.append(int(p.name))
    return out


@pytest.fixture(autouse=True)
def no_orphans():
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    yield
    assert _qemu_children() == [], "a QEMU process outlived its test"
    if before or os.path.isdir("/dev/shm"):
        leaked = {f for f in set(os.listdir("/dev/shm")) - before if "virtmodel-qemu-" in f}
        assert not leaked, f"temporary files left behind: {leaked}"


@pytest.mark.parametrize("iothread", [False, True])
def test_read_returns_null_co_zeroes(iothread):
    with Qemu(NULL + _device(iothread)) as q:
        dev = VirtioBlk(q, 4)
        q.mem[0x100000:0x400000] = 0xA5  # buffers dirty: QEMU must overwrite them
        done = dev.run([Request(sector=8 * i, nbytes=4096) for i in range(5)])
        assert len(done) == 5
        for c in done:
            assert c.status == 0 and c.written == 4097 and c.data == bytes(4096)


@pytest.mark.parametrize("aio", ["threads", "io_uring", "native"])
def test_read_returns_the_files_bytes(disk, aio):
    with Qemu(_file(disk, aio) + _device(iothread=True)) as q:
        dev = VirtioBlk(q, 4)
        done = dev.run([Request(sector=s, nbytes=1024) for s in (0, 1, 7)])
        for c in done:
            start = c.request.sector * 512
            assert c.status == 0 and c.data == bytes((start + k) % 256 for k in range(1024))


def test_write_lands_in_the_file(disk):
    with Qemu(_file(disk, "io_uring") + _device()) as q:
        dev = VirtioBlk(q, 4)
        (c,) = dev.run([Request(sector=3, nbytes=1024, write=True)], fill=b"virtmodel")
        assert c.status == 0 and c.written == 1  # only the status byte
        (r,) = dev.run([Request(sector=3, nbytes=1024)])
    got = disk.read_bytes()
    want = (b"virtmodel" * 114)[:1024]
    assert got[3 * 512 : 3 * 512 + 1024] == want == r.data
    assert got[: 3 * 512] == (bytes(range(256)) * 6)  # the sectors before are untouched


@pytest.mark.parametrize("event_idx", [True, False])
@pytest.mark.parametrize("iothread", [False, True])
def test_request_count_round_trip(event_idx, iothread):
    """Each batch of n requests: one kick (the driver asks whether QEMU wants it), n used
    entries, the MSI-X message in RAM; with EVENT_IDX QEMU re-arms kicks at once
    (avail_event = the avail index it saw), without it leaves the used flags clear."""
    with Qemu(NULL + _device(iothread), trace=["virtio_blk_handle_read"]) as q:
        dev = VirtioBlk(q, 4, event_idx=event_idx)
        sent = 0
        for n in (1, 3, 16, 64, 128):
            dev.clear_msi()
            kicked = dev.submit([Request(sector=8 * i) for i in range(n)])
            assert kicked
            dev.wait(n)
            done = dev.reap()
            sent += n
            assert len(done) == n and {c.status for c in done} == {0}
            assert dev.used_idx == sent
            assert dev.msi_landed()
            if event_idx:
                assert dev.avail_event == sent
            else:
                assert dev.used_flags == 0
        assert dev.kicks == 5
        thread = "IO io0" if iothread else "qemu-system-x86"
        assert q.trace_counts() == {("virtio_blk_handle_read", thread): sent}


def test_a_qemu_that_stops_answering_is_killed():
    q = Qemu(NULL + _device(), timeout=0.5)
    try:
        os.kill(q.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(QemuTimeout, match=r"did not answer 'readb 0x0' within 0\.5 s"):
            q.command("readb 0x0")
        assert time.monotonic() - t0 < 2
        q.proc.wait(timeout=5)  # the watchdog's SIGKILL ended it
        with pytest.raises(QemuError, match="QEMU is gone .no answer to 'readb 0x0'"):
            q.command("readb 0x0")
    finally:
        q.close()
    assert not q.dir.exists()


def test_the_deadline_kills_qemu():
    with Qemu(NULL, deadline=1) as q:
        time.sleep(1.5)
        with pytest.raises(QemuError, match=r"deadline of 1 s passed"):
            q.command("readb 0x0")


def test_qemus_own_errors_are_reported():
    with pytest.raises(QemuError, match="Property 'virtio-blk-pci.nonsense' not found"):
        Qemu(NULL + ["-device", "virtio-blk-pci,drive=d0,nonsense=1"])
    with (
        Qemu(NULL) as q,
        pytest.raises(QemuError, match="QEMU answered .FAIL Unknown command 'nonsense'"),
    ):
        q.command("nonsense 1")


def test_a_malformed_ring_gets_qemus_error_not_a_hang():
    """A descriptor chain whose next index is past the ring: QEMU marks the device broken
    (NEEDS_RESET) and says why on stderr; the driver's wait reports both."""
    with Qemu(NULL + _device()) as q:
        dev = VirtioBlk(q, 4, queue_size=16)
        dev.add([Request(sector=0)])
        dev.fields["desc_next"][0] = 200  # the header's descriptor points out of the ring
        dev.publish()
        dev.kick()
        with pytest.raises(QemuError, match=r"NEEDS_RESET.*Desc next is 200"):
            dev.wait(1, timeout=1)


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match=r"ram_mb must be an integer in 16\.\.1024, got 8"):
        Qemu(NULL, ram_mb=8)
    with pytest.raises(ValueError, match=r"accel must be None, 'tcg' or 'kvm', got 'hvf'"):
        Qemu(NULL, accel="hvf")
    with Qemu(NULL + _device()) as q:
        with pytest.raises(ValueError, match=r"queue_size must be a power of two in 2\.\.256"):
            VirtioBlk(q, 4, queue_size=512)
        dev = VirtioBlk(q, 4, queue_size=4)
        with pytest.raises(ValueError, match="at most 2 requests may be outstanding"):
            dev.add([Request(0)] * 3)
        with pytest.raises(ValueError, match="nbytes must be a multiple of 512, got 1000"):
            dev.add([Request(0, nbytes=1000)])
        with pytest.raises(ValueError, match="no PCI device at 00:09.0"):
            VirtioBlk(q, 9)


@pytest.mark.parametrize("pattern,subs", [("scattered", [1, 8, 64]), ("sequential", [1, 1, 2])])
def test_a_pass_is_one_kick_one_io_uring_enter_one_interrupt(pattern, subs):
    """QEMU 7.2 per kick of n reads: n submissions (or merges of up to 32 adjacent ones),
    one io_uring_enter for the whole pass, one interrupt, avail_event re-armed.  Polling
    off (poll-max-ns=0): an IOThread whose poll sees the new chains before it reads the
    kick's eventfd runs the handler once more, a second notify in a pass, as it happens
    on a loaded host (seen in CI: 1.33 per pass)."""
    from virtmodel.lab.qemu import experiments as ex

    rows = ex.pass_counts(
        ex.Setup(backend="io_uring", poll_max_ns=0), (1, 8, 64), passes=3, pattern=pattern
    )
    assert [r.submissions_per_pass for r in rows] == subs
    for r in rows:
        assert (r.kicks_per_pass, r.uring_enters_per_pass, r.interrupts_per_pass) == (1, 1, 1)
        assert r.avail_event_lag == 0


@pytest.mark.parametrize("iothread", [False, True])
def test_without_event_idx_completions_still_interrupt_once_per_pass(iothread):
    """Without an IOThread too, 7.2's virtio-blk completes through the dataplane's
    notify bottom half: one irqfd signal per completion batch, used flags left clear."""
    from virtmodel.lab.qemu import experiments as ex

    poll = 0 if iothread else None  # no poll to see the chains before the kick (above)
    (r,) = ex.pass_counts(
        ex.Setup(iothread=iothread, event_idx=False, poll_max_ns=poll), (32,), passes=3
    )
    assert (r.interrupts_per_pass, r.kicks_per_pass, r.used_flags) == (1, 1, 0)


def test_experiment_parameters_are_checked():
    from virtmodel.lab.qemu import experiments as ex

    with pytest.raises(ValueError, match=r"backend must be one of \('null', 'threads'"):
        ex.Setup(backend="ramdisk")
    with pytest.raises(ValueError, match="poll_max_ns needs iothread=True"):
        ex.Setup(iothread=False, poll_max_ns=0)
    with pytest.raises(ValueError, match=r"batch must be in 1\.\.128 .requests per kick., got 0"):
        ex.pass_cpu(ex.Setup(), batches=(0,))
    with pytest.raises(ValueError, match="rows must span at least two batch sizes"):
        ex.fit([])


def test_run_returns_every_experiment_with_its_parameters():
    """The public surface, briefly (1 repeat of 3 passes): QEMU's version, the host, each
    experiment's parameters and results, measured and predicted values, their error."""
    lines = []
    m = qemu.run(progress=lines.append, passes=3, repeats=1)
    assert m.qemu_version == qemu.version()
    assert any("pass_cpu/null-main-loop: done" in x for x in lines)
    assert {"pass_cpu/null", "pass_cpu/native", "wakeups", "stream", "fits"} <= set(m.experiments)
    assert m.experiments["pass_cpu/io_uring"]["params"]["backend"] == "io_uring"
    for r in m.rows:
        assert r.error == (r.predicted - r.measured) / r.measured
    kicks = [r for r in m.rows if r.quantity == "kicks/request"]
    assert len(kicks) == 8 and all(r.measured == 1 / r.params["batch"] for r in kicks)
    d = m.to_dict()
    assert d["rows"][0]["error"] == m.rows[0].error and d["host"]["cpus"] >= 1


@pytest.mark.parametrize("dbbuf", [False, True])
def test_nvme_reads_return_the_files_sectors(tmp_path_factory, dbbuf):
    from virtmodel.lab.qemu.nvme import Nvme

    d = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("disk")
    path = d / f"virtmodel-test-nvme-{os.getpid()}"
    path.write_bytes(b"".join(bytes([s]) * 512 for s in range(64)))  # sector s holds s
    try:
        args = _file(path, "io_uring") + ["-device", "nvme,drive=d0,serial=t,addr=05.0"]
        with Qemu(args) as q:
            dev = Nvme(q, 5, dbbuf=dbbuf)
            got = dev.read([3, 10, 40], nbytes=1024)
            assert got == [
                bytes([3]) * 512 + bytes([4]) * 512,
                bytes([10]) * 512 + bytes([11]) * 512,
                bytes([40]) * 512 + bytes([41]) * 512,
            ]
            assert q.mem[0x1004:0x1008].view("<u4")[0] == 0x10  # the I/O queue's MSI-X
    finally:
        path.unlink()


def test_nvme_shadow_doorbells_update_the_eventidx_per_command():
    """QEMU 7.2 with a Doorbell Buffer Config: per command one SQ EventIdx update and one
    read of the shadow SQ tail (plus one per MMIO doorbell), one read of the shadow CQ head;
    after a batch the SQ EventIdx equals the tail, and the CQ EventIdx (written without a
    trace event: fa5db2aa168b, backported into Debian's 7.2) is one batch behind the head;
    without it, only MMIO doorbells."""
    from virtmodel.lab.qemu import experiments as ex

    on = ex.nvme_counts(True, batches=(1, 8), rounds=3)
    off = ex.nvme_counts(False, batches=(8,), rounds=3)
    for r in on:
        pc = r.per_command
        assert pc["pci_nvme_io_cmd"] == pc["pci_nvme_eventidx_sq"] == 1
        assert pc["pci_nvme_shadow_doorbell_sq"] == 1 + 1 / r.batch
        assert pc["pci_nvme_shadow_doorbell_cq"] == 1 and pc["pci_nvme_eventidx_cq"] == 0
        assert (r.sq_eventidx_lag, r.cq_eventidx_lag) == (0, r.batch)
        assert (
            pc["pci_nvme_mmio_doorbell_sq"] == 1 / r.batch == r.mmio_doorbells_per_batch / r.batch
        )
    (r,) = off
    assert (
        r.per_command["pci_nvme_eventidx_sq"] == r.per_command["pci_nvme_shadow_doorbell_sq"] == 0
    )
    assert r.per_command["pci_nvme_mmio_doorbell_sq"] == 1 / 8


def test_ide_pio_read_returns_the_files_sectors(tmp_path_factory):
    """The legacy IDE ports of the pc machine, register by register: one data-register
    read (one ide_data_readw in QEMU) per 16-bit word, six register writes per command."""
    from virtmodel.lab.qemu.ide import Ide

    d = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("disk")
    path = d / f"virtmodel-test-ide-{os.getpid()}"
    path.write_bytes(b"".join(bytes([s]) * 512 for s in range(16)))
    try:
        args = _file(path, "threads") + ["-device", "ide-hd,drive=d0,bus=ide.0,unit=0"]
        with Qemu(args, machine="pc", trace=["ide_data_readw", "ide_ioport_write"]) as q:
            assert Ide(q).read(5, 2) == bytes([5]) * 512 + bytes([6]) * 512
            time.sleep(0.02)
            counts = q.trace_counts()
        assert counts[("ide_data_readw", "qemu-system-x86")] == 512
        assert counts[("ide_ioport_write", "qemu-system-x86")] == 6
    finally:
        path.unlink()


def _accels():
    """TCG always; KVM where this host's KVM opens (it does on the project's machines and
    CI: a KVM-flavoured host, PVM here)."""
    from virtmodel.lab.kvm import probe

    return ["tcg", "kvm"] if probe().usable else ["tcg"]


@pytest.mark.parametrize("accel", _accels())
def test_a_real_guest_reads_the_files_sectors_by_pio(tmp_path_factory, accel):
    """The firmware guest (its CPU runs) issues READ SECTORS for 4 sectors, moves each with
    rep insw, sums the words and compares with the sum it was given: QEMU's exit status
    says the guest saw the file's bytes (1: right, 3: wrong); the last sector is in RAM."""
    from virtmodel.lab.qemu import firmware

    d = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("disk")
    path = d / f"virtmodel-test-guest-{os.getpid()}"
    data = b"".join(bytes([s, 255 - s]) * 256 for s in range(16))  # sector s: s, 255-s, ...
    path.write_bytes(data)
    try:
        want = firmware.checksum(data[3 * 512 : 7 * 512])
        r = firmware.run("read", 4, accel, disk=str(path), lba=3, expect=want)
        assert (r.exit_status, r.checksum) == (1, want)
        assert r.data == data[6 * 512 : 7 * 512]
        assert r.polls >= 5  # at least one status read per command and one at the end
        wrong = firmware.run("read", 4, accel, disk=str(path), lba=3, expect=want ^ 1)
        assert (wrong.exit_status, wrong.checksum) == (3, want)
    finally:
        path.unlink()


def test_a_real_guests_register_accesses_cost_qemu_cpu():
    """Under TCG, briefly: the vCPU thread's CPU grows with the guest's accesses; the
    slopes are positive and finite, and a register read costs more than a loop
    iteration and less than a whole IDENTIFY."""
    import math

    from virtmodel.lab.qemu import experiments as ex

    c = ex.ide_guest_cost("tcg", repeats=1, scale=0.3)
    assert c.accel == "tcg" and c.kvm_flavour is None
    assert set(c.points) == {"baseline", "status", "identify", "check_power"}
    for pts in c.points.values():
        assert len(pts) == 3 and all(ns > 0 for _, ns, _ in pts)
    assert all(0 < s < math.inf for s in c.slopes.values())
    assert 0 < c.register_ns < c.slopes["identify"]
    assert 0 < c.pio_element_ns < c.slopes["identify"] / 100
    assert c.slopes["status"] > c.slopes["baseline"]


def test_the_firmware_checks_its_parameters():
    from virtmodel.lab.qemu import experiments as ex
    from virtmodel.lab.qemu import firmware

    with pytest.raises(ValueError, match=r"mode must be one of \('baseline', 'status'"):
        firmware.rom("write", 1)
    with pytest.raises(ValueError, match=r"count must be in 1\.\.2\*\*31, got 0"):
        firmware.rom("status", 0)
    with pytest.raises(ValueError, match=r"accel must be one of \('tcg', 'kvm'\), got 'hvf'"):
        firmware.run("status", 1, "hvf")
    with pytest.raises(ValueError, match=r"scale must be in 0\.01\.\.10, got 0"):
        ex.ide_guest_cost(scale=0)
    image = firmware.rom("read", 7, lba=9, checksum=0x1234)
    assert len(image) == 65536 and image[0xFFF0:0xFFF5] == b"\xea\x00\x01\x00\xf0"
    assert image[:14] == bytes.fromhex("0400000007000000090000003412")


def test_nvme_writes_the_tail_it_has_read_to_the_eventidx():
    """QEMU 7.2 with shadow doorbells: after each command of a pass it writes the SQ tail
    it last read to the EventIdx (not the head), and re-reads the shadow tail.  A burst
    rung at once: the burst's tail after every command.  Commands added one at a time
    after the burst: the EventIdx climbs to the last of them; each such command needed an
    MMIO doorbell only if QEMU had caught up with the one before (at most one each)."""
    from virtmodel.lab.qemu import experiments as ex

    burst = ex.nvme_adds(8, 0, rounds=3)
    assert burst.eventidx_written == ((8,) * 8,) * 3 and burst.extra_doorbells == 0
    adds = ex.nvme_adds(4, 6, rounds=3)
    for seen in adds.eventidx_written:
        assert len(seen) == 10 and seen[-1] == 10
        assert list(seen) == sorted(seen) and seen[0] >= 4
    assert 0 <= adds.extra_doorbells <= 1
    with pytest.raises(ValueError, match=r"extra must be in 0\.\.31 .the queue holds 63., got 40"):
        ex.nvme_adds(32, 40)


@pytest.mark.skipif("kvm" not in _accels(), reason="KVM: /dev/kvm does not open here")
def test_under_kvm_each_port_access_is_one_exit_and_a_rep_insw_one_for_its_words():
    """QEMU's kvm_run_exit trace: an empty loop never exits, a status read is one exit,
    CHECK POWER MODE's two register writes two, and IDENTIFY's 256 words by rep insw add
    one exit for all of them (QEMU then calls the device model per word)."""
    from virtmodel.lab.qemu import experiments as ex

    c = ex.ide_guest_cost("kvm", repeats=1, scale=0.1)
    assert c.kvm_flavour in ("vmx", "svm", "pvm")
    assert c.exits_per_iteration == {"baseline": 0, "status": 1, "identify": 3, "check_power": 2}
    assert c.register_ns > 0 and c.pio_element_ns > 0
