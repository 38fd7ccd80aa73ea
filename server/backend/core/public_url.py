"""The address phones and email links use to reach this server (PUBLIC_URL).

A QR code or an emailed link must open on someone else's device, so it cannot use the
address an admin happened to type (`http://localhost:3000` opens nothing on a phone).
Production requires PUBLIC_URL; development defaults to this machine's LAN address
and the backend's port, and says so at start.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from server.backend.core.config import Settings

logger = logging.getLogger(__name__)

# Connecting a UDP socket sends nothing; it only asks the kernel which local address
# would route there, i.e. the LAN interface. Any non-loopback address does.
_ROUTE_PROBE = ("10.255.255.255", 1)


@functools.cache
def lan_address() -> str:
    """This machine's LAN address, or 127.0.0.1 when it has no network route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


def development_default(port: int) -> str:
    return f"http://{lan_address()}:{port}"


def join(base: str, path_and_query: str) -> str:
    """`base` (maybe with a path prefix, e.g. behind a proxy) plus an absolute path."""
    return base.rstrip("/") + path_and_query


def log_public_url(settings: Settings) -> None:
    """Say at start which address QR codes and emailed links will carry."""
    if settings.public_url:
        logger.info("Links in QR codes and emails use %s (PUBLIC_URL)", settings.public_base_url)
        return
    logger.info(
        "Links in QR codes and emails use %s: this machine's LAN address, the development "
        "default; set PUBLIC_URL to the address phones reach this server at",
        settings.public_base_url,
    )


PhoneCamera = Literal["live", "video"]


def phone_camera(base: str) -> tuple[PhoneCamera, str]:
    """Whether phones opening `base` get the page's live camera, and a line for the admin.

    Browsers give a page the camera only in a secure context: https, or the phone's own
    localhost. A venue server at http://192.168.x.y is neither, so there the page has
    phones record a short selfie video with their camera app instead.
    """
    parts = urlsplit(base)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" or loopback:
        return "live", "Phones get the live camera and the head-turn check on the page."
    return "video", (
        f"Phones record a short selfie video with their camera app: {base} is not https, "
        "and browsers give a page the live camera only over https. To give phones the "
        "live camera, put this server behind https and set PUBLIC_URL (see the README)."
    )
