"""Full-page screenshots of each page at desktop and phone widths, for people to look at.

Saved as test-artifacts/e2e/<page>-<width>.png under the repository root. Each must be
a real PNG as wide as the viewport (a wider one means the page scrolls sideways) and
not blank.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from .support import DESKTOP, PHONE, SCREENSHOT_PAGES, Mailbox, open_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decompressed pixel data) of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    position, idat, width, height = 8, b"", 0, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        position += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", SCREENSHOT_PAGES)
def test_screenshot(
    name: str, viewport: dict, make_context, new_user, mailbox: Mailbox, artifacts_dir: Path
) -> None:
    phone = viewport is PHONE
    context = make_context(viewport=viewport, device_scale_factor=1, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    open_page(name, page, new_user(), mailbox)
    path = artifacts_dir / f"{name}-{viewport['width']}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")

    assert path.is_file()
    width, height, distinct = png_facts(path)
    assert width == viewport["width"], f"{path.name}: {width} px wide, the page scrolls sideways"
    assert height >= viewport["height"], f"{path.name}: {height} px high"
    assert path.stat().st_size > 10_000, f"{path.name}: {path.stat().st_size} bytes"
    assert distinct > 32, f"{path.name} looks blank ({distinct} distinct byte values)"
