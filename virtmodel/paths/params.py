"""Parameters that several paths share, declared once (a path lists the ones it takes)."""

from __future__ import annotations

from .. import trap
from ..costs import MAX_PARALLELISM
from ..spec import MAX_QUEUE_SIZE, check_packed_queue_size, check_queue_size
from .registry import Param

MAX_REQUESTS = 10_000_000

REQUEST_BYTES = Param(
    "request_bytes",
    4096,
    "B",
    "bytes per request (the DMA size)",
    lo=0,
    hi=trap.MAX_REQUEST_BYTES,
    hi_text="16 MiB",
)
QUEUE_SIZE = Param(
    "queue_size",
    256,
    "descriptors",
    "descriptors in the ring",
    kind="custom",
    hi_text=f"a power of two, 1..{MAX_QUEUE_SIZE} (the packed ring: any size)",
    check_fn=lambda v, p: (
        check_packed_queue_size(v) if p.get("ring") == "packed" else check_queue_size(v)
    ),
)
LAYOUT = Param(
    "ring",
    "split",
    "",
    "the virtqueue's layout: split (virtio 1.0's descriptor "
    "table, available and used rings) or packed (virtio 1.1's one descriptor ring)",
    kind="choice",
    choices=("split", "packed"),
)
DESCRIPTORS = Param(
    "descriptors_per_request",
    1,
    "descriptors",
    "descriptors per chain (the request's bytes spread over them)",
    lo=1,
    hi=lambda p: min(p["queue_size"], 64),
    hi_text="min(queue_size, 64)",
)
BATCH = Param(
    "batch",
    1,
    "requests",
    "requests the driver makes available before it considers a kick",
    lo=1,
    hi=lambda p: p["queue_size"] // p["descriptors_per_request"],
    hi_text="queue_size // descriptors_per_request",
)


def _one_workload(iodepth, p):
    if iodepth > 1 and p["batch"] > 1:
        raise ValueError(
            f"give batch or iodepth, not both: batch={p['batch']} (closed-loop "
            f"batches) and iodepth={iodepth} (fio's libaio queue depth)"
        )
    return iodepth


IODEPTH = Param(
    "iodepth",
    1,
    "requests",
    "fio's iodepth: requests kept in flight, a new one "
    "submitted (and a kick considered) as each completes; with batch > 1 it "
    "must be 1",
    lo=1,
    hi=lambda p: p["queue_size"] // p["descriptors_per_request"],
    hi_text="queue_size // descriptors_per_request",
    check_fn=_one_workload,
)
REQUESTS = Param("requests", 10_000, "requests", "requests simulated", lo=1, hi=MAX_REQUESTS)
EVENT_IDX = Param(
    "event_idx",
    True,
    "",
    "VIRTIO_F_EVENT_IDX negotiated (kick and interrupt suppression by index, not by flag)",
    kind="bool",
)
INTERRUPTS = Param(
    "interrupts",
    True,
    "",
    "completions by interrupt (else the driver polls; "
    "emulated: the device completes during the doorbell's exit)",
    kind="bool",
)
IOEVENTFD = Param(
    "ioeventfd",
    True,
    "",
    "a kick is an in-kernel exit that wakes an I/O thread "
    "(else an exit to user space; QEMU drains the ring in the vCPU thread)",
    kind="bool",
)
DATA_MODE = Param(
    "data_mode",
    "dma",
    "",
    "how data crosses: pio (4 B per OUT), string-pio (rep outs), dma",
    kind="choice",
    choices=trap.DATA_MODES,
)
ACCESSES = Param(
    "accesses_per_request",
    3,
    "accesses",
    "trapping register accesses that start a request",
    lo=1,
    hi=64,
)
DMA_SETUP = Param(
    "dma_setup_accesses",
    2,
    "accesses",
    "extra register accesses that program a DMA transfer",
    lo=0,
    hi=16,
)
INTERRUPT_MODE = Param(
    "interrupt_mode",
    "posted",
    "",
    "how interrupts reach the vCPU: "
    "posted (APICv/AVIC: no exit to deliver an MSI or for its EOI), "
    "pv-eoi (an exit to deliver; the EOI needs none), legacy (an exit to "
    "deliver, one for the EOI)",
    kind="choice",
    choices=trap.INTERRUPT_MODES,
)
HALT_POLL = Param(
    "halt_poll",
    True,
    "",
    "KVM polls a halted vCPU for up to the profile's "
    "halt_poll_ns before its thread sleeps (the window adapts as KVM's does)",
    kind="bool",
)
DEVICE_TYPE = Param(
    "device_type",
    "blk",
    "",
    "what the back end does with the data: blk "
    "(the physical device serves it, no CPU copy), net (the back end copies "
    "it into the host's network stack: a tap write)",
    kind="choice",
    choices=("blk", "net"),
)
DEVICE_PARALLELISM = Param(
    "device_parallelism",
    0,
    "requests",
    "requests the physical device serves at once (0: the profile's device_parallelism)",
    lo=0,
    hi=MAX_PARALLELISM,
)
NOTIFY_BY = Param(
    "notify_by",
    "mmio",
    "",
    "how the driver kicks: mmio (virtio-pci 1.0's "
    "notify area; KVM decodes it unless it is an ioeventfd) or pio (legacy "
    "virtio-pci's queue-notify port: no decode)",
    kind="choice",
    choices=("mmio", "pio"),
)
SHADOW_DOORBELL = Param(
    "shadow_doorbell",
    True,
    "",
    "NVMe 1.3 Doorbell Buffer Config: "
    "doorbells in shared memory with EventIdx values (the NVMe "
    "counterpart of VIRTIO_F_EVENT_IDX)",
    kind="bool",
)
NVME_IOEVENTFD = Param(
    "ioeventfd",
    False,
    "",
    "the doorbells are ioeventfds (QEMU's nvme "
    "ioeventfd=on; off by default): KVM still decodes, no exit to user "
    "space; QEMU registers them only with shadow doorbells, so without "
    "shadow_doorbell this changes nothing",
    kind="bool",
)
DIRECTION = Param(
    "direction",
    "read",
    "",
    "read (device to guest: rep ins moves up to "
    "1 KiB per exit) or write (guest to device: rep outs, one element per "
    "exit)",
    kind="choice",
    choices=("read", "write"),
)
QUEUES = Param(
    "queues",
    1,
    "queues",
    "virtqueues (or device queues), one per vCPU, each "
    "with its own back end and interrupt; the device's parallelism is shared "
    "among them",
    lo=1,
    hi=64,
)
PROFILE = Param(
    "profile",
    "modern",
    "",
    "the costs: a CostProfile, a name in costs.PROFILES or a .json file",
    kind="profile",
)
SEED = Param("seed", 0, "", "seeds the jitter of service and wake-up times", kind="seed")

RING = (REQUEST_BYTES, QUEUE_SIZE, DESCRIPTORS, BATCH, IODEPTH, REQUESTS, EVENT_IDX, INTERRUPTS)
"""What every path over a shared ring takes (in checking order)."""
VIRTQUEUE = (REQUEST_BYTES, LAYOUT, *RING[1:])
"""The same, for paths whose ring is a virtqueue of either layout."""
HOST = (INTERRUPT_MODE, HALT_POLL)
"""How the host delivers interrupts and idles a vCPU."""
DEVICE = (DEVICE_TYPE, DEVICE_PARALLELISM)
"""What is behind the back end."""
