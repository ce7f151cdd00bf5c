"""The guest programs, as machine code, with their assembly source beside them.

Each program is ``guests/<name>.S`` (GNU as, Intel syntax, 64-bit; ``ide_pio`` is 16-bit
real-mode code, the firmware image of the QEMU lab's real guest,
:mod:`virtmodel.lab.qemu.firmware`); the bytes below are what ``as --64`` and
``objcopy -O binary -j .text`` make of it.  Parameters reach a guest in registers (see each
source's header; ``ide_pio``: in its ROM's parameter block), never by patching its code.
``tests/test_lab.py`` re-assembles every source where ``as`` exists and checks the bytes
are the same.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "guests"

CODE = {
    "exit_loop": bytes.fromhex(
        "4989ca4983f90174144983f90274174983f903741cee49ffca75faeb24890749"
        "ffca75f9eb1b31c00fa249ffca75f7eb10488b07eef39048390774f949ffca75"
        "f04c89c2eeebfa"
    ),
    "virtio_driver": bytes.fromhex(
        "4531e44531ed488d5eff4c89e04821d86641894443044889c5490fafe94c01d5"
        "4c89650048c1e0044801f848892844894808c7400c0000000049ffc449ffc548"
        "ffc974054d39c572c16645896302ee4531ed410fb74602664439e07404f390eb"
        "f14885c975a44c89faeeeb94"
    ),
    "emulated_driver": bytes.fromhex(
        "4531e4488d5eff4989d54c89e04821d8490fafc14c01d04c89204983f801740c"
        "4c89eaef498d55014489c8ef498d55024489e0ef49ffc448ffc975ce4c89faee"
        "ebbe"
    ),
    "irq_setup": bytes.fromhex(
        "488d053a0000004889f348c1e3044801fb66890366c74302080066c74304008e"
        "48c1e8106689430648c1e81048894308b8f000e0fec700ff0100004c89faeeeb"
        "bf50488b0425087100000fb740026689042512710000b8b000e0fec700000000"
        "0048ff0425007100005848cf"
    ),
    "ide_pio": bytes.fromhex(
        "fa8cc88ed831c08ec08ed0bc0070b0ffe621e6a1baf603b002ee6631ed31f666"
        "8b0e04008b1e000083fb01741683fb02741c83fb03743783fb047443664975fc"
        "e9e900baf701ec664975fbe9de00baf601b0e0ee42b0eceebaf001bf00806651"
        "b90001f36d6659664975e3e9be00baf601b0e0ee42b0e5ee664975f2e9ad0066"
        "8b3e0800e87a00baf6016689f866c1e818240f0ce0eebaf201b001ee426689f8"
        "ee4266c1e808ee4266c1e808eebaf701b020ee6645eca801753ea88075f5a808"
        "74f166576651baf001bf0080b90001f36dbf0080b9000126033583c7024975f7"
        "6659665f66476649759ae81400e81c0030c03b360c007405e81100b001e6f4eb"
        "2ebaf7016645eca88075f9c3baf201ec30e426a30a0526893608052666892e04"
        "052666c7060005444f4e45c3e8ddfffaf4ebfc"
    ),
}

# exit_loop's operation selector (register r9)
OP_PIO, OP_MMIO, OP_CPUID, OP_KICK_WAIT = 0, 1, 2, 3


def assemble(name: str) -> bytes:
    """Assemble ``guests/<name>.S`` with binutils (``as``, ``objcopy``)."""
    if not (shutil.which("as") and shutil.which("objcopy")):
        raise RuntimeError("assembling needs binutils (as, objcopy) on PATH")
    with tempfile.TemporaryDirectory() as d:
        obj, out = Path(d) / "g.o", Path(d) / "g.bin"
        subprocess.run(
            ["as", "--64", "-o", str(obj), str(SOURCES / f"{name}.S")],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["objcopy", "-O", "binary", "-j", ".text", str(obj), str(out)],
            check=True,
            capture_output=True,
        )
        return out.read_bytes()
