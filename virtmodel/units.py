"""Formatting of quantities for labels and tables."""


def fmt_bytes(n: int) -> str:
    """``4096 -> '4 KiB'``, ``1500 -> '1500 B'`` (binary units only when exact)."""
    for unit, k in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << k and n % (1 << k) == 0:
            return f"{n >> k} {unit}"
    return f"{n} B"
