"""Parameters that several paths share, declared once (a path lists the ones it takes)."""

from __future__ import annotations

from .. import trap
from ..spec import MAX_QUEUE_SIZE, check_queue_size
from .registry import Param

MAX_REQUESTS = 10_000_000

REQUEST_BYTES = Param("request_bytes", 4096, "B", "bytes per request (the DMA size)",
                      lo=0, hi=trap.MAX_REQUEST_BYTES, hi_text="16 MiB")
QUEUE_SIZE = Param("queue_size", 256, "descriptors", "descriptors in the ring", kind="custom",
                   hi_text=f"a power of two, 1..{MAX_QUEUE_SIZE}",
                   check_fn=lambda v, _: check_queue_size(v))
DESCRIPTORS = Param("descriptors_per_request", 1, "descriptors",
                    "descriptors per chain (the request's bytes spread over them)",
                    lo=1, hi=lambda p: min(p["queue_size"], 64), hi_text="min(queue_size, 64)")
BATCH = Param("batch", 1, "requests",
              "requests the driver makes available before it considers a kick",
              lo=1, hi=lambda p: p["queue_size"] // p["descriptors_per_request"],
              hi_text="queue_size // descriptors_per_request")
REQUESTS = Param("requests", 10_000, "requests", "requests simulated", lo=1, hi=MAX_REQUESTS)
EVENT_IDX = Param("event_idx", True, "", "VIRTIO_F_EVENT_IDX negotiated (kick and interrupt "
                  "suppression by index, not by flag)", kind="bool")
INTERRUPTS = Param("interrupts", True, "", "completions by interrupt (else the driver polls; "
                   "emulated: the device completes during the doorbell's exit)", kind="bool")
IOEVENTFD = Param("ioeventfd", True, "", "a kick is an in-kernel exit that wakes an I/O thread "
                  "(else an exit to user space; QEMU drains the ring in the vCPU thread)",
                  kind="bool")
DATA_MODE = Param("data_mode", "dma", "", "how data crosses: pio (4 B per OUT), string-pio "
                  "(rep outs), dma", kind="choice", choices=trap.DATA_MODES)
ACCESSES = Param("accesses_per_request", 3, "accesses",
                 "trapping register accesses that start a request", lo=1, hi=64)
DMA_SETUP = Param("dma_setup_accesses", 2, "accesses",
                  "extra register accesses that program a DMA transfer", lo=0, hi=16)
PROFILE = Param("profile", "published", "", "the costs: a CostProfile, a name in "
                "costs.PROFILES or a .json file", kind="profile")
SEED = Param("seed", 0, "", "seeds the jitter of service and wake-up times", kind="seed")

RING = (REQUEST_BYTES, QUEUE_SIZE, DESCRIPTORS, BATCH, REQUESTS, EVENT_IDX, INTERRUPTS)
"""What every path over a shared ring takes (in checking order)."""
