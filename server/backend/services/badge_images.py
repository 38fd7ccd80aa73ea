"""Badge pictures: the QR code of a badge token as PNG or SVG, and a printable sheet."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.image.svg

# Medium error correction survives a scuffed or creased printed badge.
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def _qr(token: str, *, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, box_size=box_size, border=4)
    code.add_data(token)
    code.make(fit=True)
    return code


def png(token: str) -> bytes:
    buffer = io.BytesIO()
    _qr(token, box_size=8).make_image().save(buffer)
    return buffer.getvalue()


def svg(token: str) -> str:
    image = _qr(token, box_size=10).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    text: str = image.to_string(encoding="unicode")
    return text


@dataclass(frozen=True)
class SheetEntry:
    full_name: str
    ministry: str
    token: str
    member_code: str = ""


def sheet(entries: list[SheetEntry], *, title: str) -> str:
    """One printable HTML page: a grid of badges, each a QR code above a name and code."""
    cards = "\n".join(
        '<figure class="badge">'
        f"{svg(entry.token)}"
        f"<figcaption><strong>{html.escape(entry.full_name)}</strong>"
        f"<span>{html.escape(entry.ministry)}</span>"
        f'<span class="code">Member code {html.escape(entry.member_code)}</span>'
        "</figcaption></figure>"
        for entry in entries
    )
    empty = "" if entries else "<p>No member in this selection has a working badge.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 10mm; }}
.sheet {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 6mm; }}
.badge {{ margin: 0; padding: 4mm; border: 1px dashed #999; text-align: center;
          break-inside: avoid; }}
.badge svg {{ width: 40mm; height: 40mm; }}
figcaption strong, figcaption span {{ display: block; }}
.code {{ font-family: monospace; font-size: 1.2em; letter-spacing: .1em; }}
@media print {{ h1 {{ display: none; }} }}
</style></head>
<body><h1>{html.escape(title)}</h1>{empty}<div class="sheet">
{cards}
</div></body></html>
"""
