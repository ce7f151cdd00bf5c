"""The virtio path's mechanics written the usual way, with SimPy: the yardstick for
virtmodel's numba DES (benchmarks/run.py).

One process model, two rings:

* :class:`SplitQueue` (virtmodel.ring, compiled): the same split ring the numba simulation
  runs, descriptor table and all.  This is the *equivalent model*: SimPy's event loop in
  place of ringsim's, everything else the same (protocol, costs, lognormal jitter).
* :class:`IndexRing`: only the ring's free-running indices and the EVENT_IDX rule, no
  descriptors, no jitter: the cheapest SimPy model of the protocol ("a minimal SimPy queue
  model"), for scale.

Protocol as in virtmodel.ringsim: closed-loop batches; a kick only when the ring says the
device wants one; the back end wakes (a delay) and runs a pass as QEMU's virtio-blk does:
kicks off while it pops, on an empty ring kicks re-enabled and one more look, then the
whole pass submitted together to the device; served chains come back used in a completion
pass with one interrupt decision at its end; the driver's handler disables interrupts,
reaps everything, re-enables and looks again.
"""

import math

import numpy as np
import simpy

from virtmodel.ring import Chain, SplitQueue
from virtmodel.spec import need_event

_CHAIN = Chain(head=0, readable_bytes=4096, writable_bytes=0, descriptors=1)


class IndexRing:
    """The split ring reduced to its indices (EVENT_IDX on): what the protocol needs to
    decide kicks and interrupts, and nothing else."""

    def __init__(self, queue_size):
        self.avail = self.added = self.next_avail = self.used = self.last_used = 0
        self.avail_event = self.used_event = self.signalled = 0
        self.valid = False

    def add(self, lens, token):
        self.avail = (self.avail + 1) & 0xFFFF
        self.added += 1
        return token

    def kick_prepare(self):
        old, self.added = (self.avail - self.added) & 0xFFFF, 0
        return need_event(self.avail_event, self.avail, old)

    def pop(self):
        if self.next_avail == self.avail:
            return None
        self.next_avail = (self.next_avail + 1) & 0xFFFF
        return _CHAIN

    def push_used(self, head, written):
        self.used = (self.used + 1) & 0xFFFF

    def should_interrupt(self):
        old, self.signalled = self.signalled, self.used
        first, self.valid = not self.valid, True
        return first or need_event(self.used_event, self.used, old)

    def get_used(self):
        if self.last_used == self.used:
            return None
        self.last_used = (self.last_used + 1) & 0xFFFF
        return self.last_used

    def disable_interrupts(self):
        pass  # with EVENT_IDX the device reads used_event, which the handler re-arms

    def enable_interrupts(self):
        self.used_event = self.last_used
        return self.used != self.last_used

    def disable_kicks(self):
        pass  # EVENT_IDX: avail_event is left behind, so need_event() stays false

    def enable_kicks(self):
        self.avail_event = self.avail
        return self.avail != self.next_avail


def run(n_req, batch, c, ring="split", parallelism=1, jitter_cv=0.0, seed=0):
    """Simulate ``n_req`` requests; return the simulated time (ns).  ``c`` maps the event
    loop's actions to their cost in ns (``submit``, ``kick``, ``wake_backend``, ``pop``,
    ``service``, ``complete``, ``signal``, ``hlt``, ``wake_slept``, ``handler``,
    ``wake_for_completion``); halt polling is off (every halt sleeps)."""
    env = simpy.Environment()
    q = SplitQueue(256, event_idx=True) if ring == "split" else IndexRing(256)
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(math.log1p(jitter_cv * jitter_cv))

    def jitter():
        return math.exp(sigma * rng.standard_normal() - sigma * sigma / 2) if sigma else 1.0

    backend = {"event": env.event(), "asleep": True, "kicked": False}
    irq = [env.event()]
    device = simpy.Resource(env, capacity=parallelism)
    ready = []  # served requests, waiting for the back end
    finished = env.event()
    lens = [4096]

    def wake_backend(cost):
        if backend["asleep"] and not backend["event"].triggered:
            backend["event"].succeed(cost)

    def vcpu():
        submitted = done = 0
        while submitted < n_req:
            for _ in range(min(batch, n_req - submitted)):
                yield env.timeout(c["submit"])
                q.add(lens, token=submitted)
                submitted += 1
            if q.kick_prepare():
                yield env.timeout(c["kick"])
                backend["kicked"] = True
                wake_backend(c["wake_backend"])
            while done < submitted:
                yield env.timeout(c["hlt"])  # nothing to do: halt until the interrupt
                yield irq[0]
                irq[0] = env.event()
                yield env.timeout(c["wake_slept"] * jitter() + c["handler"])
                q.disable_interrupts()
                while True:
                    while q.get_used() is not None:
                        done += 1
                    if not q.enable_interrupts():
                        break
                    q.disable_interrupts()
        finished.succeed()

    def serve(chain):
        with device.request() as slot:
            yield slot
            yield env.timeout(c["service"] * jitter())
        ready.append(chain)
        wake_backend(c["wake_for_completion"])

    def backend_thread():
        while True:
            backend["asleep"] = True
            wake_cost = yield backend["event"]
            backend["event"] = env.event()
            yield env.timeout(wake_cost * jitter())
            backend["asleep"] = False
            while True:
                if ready:  # return what the device served, then one interrupt decision
                    while ready:
                        q.push_used(ready.pop(0).head, 0)
                        yield env.timeout(c["complete"])
                    if q.should_interrupt():
                        yield env.timeout(c["signal"])
                        if not irq[0].triggered:
                            irq[0].succeed()
                    continue
                if not backend["kicked"]:
                    break
                backend["kicked"] = False
                q.disable_kicks()  # a pass: kicks off only while it pops
                taken = []
                while True:
                    chain = q.pop()
                    if chain is None:
                        if q.enable_kicks():
                            q.disable_kicks()
                            continue
                        break
                    yield env.timeout(c["pop"])
                    taken.append(chain)
                if taken:  # one submission for the pass: the device gets them together
                    yield env.timeout(c["submit_pass"])
                    for chain in taken:
                        env.process(serve(chain))

    env.process(vcpu())
    env.process(backend_thread())
    env.run(until=finished)
    return env.now
