"""The virtio path's mechanics written the usual way, with SimPy: the yardstick for
virtmodel's numba DES (benchmarks/run.py).  Same protocol: closed-loop batches, a kick only
when the device has re-enabled kicks (EVENT_IDX: avail_event in the new window), the device
drains with kicks off, one interrupt per used buffer unless the driver has not reaped since
(used_event), the driver's handler reaps all and re-checks.  Same costs, no jitter."""

import simpy


def need_event(event, new, old):
    return ((new - event - 1) & 0xFFFF) < ((new - old) & 0xFFFF)


def run(n_req, batch, c_submit, c_kick, c_wake, c_serve, c_irq):
    env = simpy.Environment()
    st = {"avail": 0, "avail_event": 0, "used": 0, "used_event": 0, "last_used": 0,
          "signalled": 0, "valid": False, "next_avail": 0, "done": 0, "asleep": True}
    kick_ev = [env.event()]
    irq_ev = [env.event()]
    finished = env.event()

    def vcpu():
        submitted = 0
        while submitted < n_req:
            old = st["avail"]
            for _ in range(min(batch, n_req - submitted)):
                yield env.timeout(c_submit)
                st["avail"] = (st["avail"] + 1) & 0xFFFF
                submitted += 1
            if need_event(st["avail_event"], st["avail"], old):
                yield env.timeout(c_kick)
                if st["asleep"] and not kick_ev[0].triggered:
                    kick_ev[0].succeed()
            while st["done"] < submitted:
                yield irq_ev[0]
                irq_ev[0] = env.event()
                yield env.timeout(c_irq)
                while True:
                    while st["last_used"] != st["used"]:
                        st["last_used"] = (st["last_used"] + 1) & 0xFFFF
                        st["done"] += 1
                    st["used_event"] = st["last_used"]
                    if st["used"] == st["last_used"]:
                        break
        finished.succeed()

    def device():
        while True:
            yield kick_ev[0]
            kick_ev[0] = env.event()
            yield env.timeout(c_wake)
            st["asleep"] = False
            while True:
                while st["next_avail"] != st["avail"]:
                    st["next_avail"] = (st["next_avail"] + 1) & 0xFFFF
                    yield env.timeout(c_serve)
                    old, st["used"] = st["used"], (st["used"] + 1) & 0xFFFF
                    first, st["valid"] = not st["valid"], True
                    old, st["signalled"] = st["signalled"], st["used"]
                    if (first or need_event(st["used_event"], st["used"], old)) \
                            and not irq_ev[0].triggered:
                        irq_ev[0].succeed()
                st["avail_event"] = st["avail"]
                if st["next_avail"] == st["avail"]:
                    break
            st["asleep"] = True

    env.process(vcpu())
    env.process(device())
    env.run(until=finished)
    return env.now
