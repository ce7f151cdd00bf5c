"""The explorers: each chapter's figures with knobs, live in a kernel and kernel-free on
the site.  A chapter's demo is one call of a function here.

==================  ==================================================================
module              what it holds
==================  ==================================================================
``core``            :class:`Knob` and :class:`Explorer`: knobs, state, redraw (no widget
                    toolkit), the memoised model runs the explorers share
``live``            the live form: ipywidgets controls above the figure
``static``          the static form: a kernel-free player over pre-rendered frames
``render``          drawing pixels: the caching Agg canvas, and every use of
                    matplotlib's private names, behind one version check
``figures``         the figure kinds (curves, bars, timeline, tables, ...) and palette
``overview``        chapter 1's explorer (the exit tax)
``emulated``        chapter 2's explorers (trap path, sharing page or DMA, breakdown)
                    and its device catalogue
``virtio``          chapter 3's explorers (the vring tour, batching, close to native)
``beyond``          chapter 5's explorers (ioeventfd, back ends, interrupts, NVMe, ...)
                    and its table of every path
``lab``             the lab chapter's explorer (measured beside predicted) and the
                    report that measures this machine
==================  ==================================================================
"""

from .beyond import (
    explore_assignment,
    explore_backends,
    explore_coalescing,
    explore_interrupts,
    explore_ioeventfd,
    explore_nvme,
    explore_packed,
    explore_scaling,
    explore_which_path,
    path_table,
)
from .core import Explorer, Knob
from .emulated import device_catalogue, explore_breakdown, explore_dma_size, explore_trap_path
from .lab import LabReport, explore_lab, measure_your_machine
from .overview import explore_exit_tax
from .virtio import explore_batching, explore_request_size, vring_tour

__all__ = [
    "Explorer",
    "Knob",
    "LabReport",
    "device_catalogue",
    "explore_assignment",
    "explore_backends",
    "explore_batching",
    "explore_breakdown",
    "explore_coalescing",
    "explore_dma_size",
    "explore_exit_tax",
    "explore_interrupts",
    "explore_ioeventfd",
    "explore_lab",
    "explore_nvme",
    "explore_packed",
    "explore_request_size",
    "explore_scaling",
    "explore_trap_path",
    "explore_which_path",
    "measure_your_machine",
    "path_table",
    "vring_tour",
]
