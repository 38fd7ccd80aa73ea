"""Pairing with a wrong address says what to change, in one sentence, over real HTTP."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from kiosk.errors import PairingError
from kiosk.syncing.client import SyncClient
from tests.server.live import free_port, serve

pytestmark = [pytest.mark.network]


def pair(url: str) -> str:
    client = SyncClient(url)
    try:
        with pytest.raises(PairingError) as refused:
            client.pair("ABCD-EFGH")
    finally:
        client.close()
    return str(refused.value)


def test_an_address_without_http_says_to_add_it() -> None:
    message = pair("192.168.1.20:3000")
    assert "needs http:// or https:// in front" in message
    assert "UnsupportedProtocol" not in message


def test_a_server_that_is_not_sonta_is_named_not_dumped() -> None:
    other = FastAPI()

    @other.post("/api/kiosks/pair")
    def welcome() -> HTMLResponse:
        return HTMLResponse("<html><body><h1>Welcome to nginx!</h1></body></html>")

    with serve(FastAPI()) as nothing_there, serve(other) as html_ok:
        for url in (nothing_there, html_ok):
            message = pair(url)
            assert "does not look like a Sonta Attendance server" in message, message
            assert "<" not in message and "Check-ins are kept" not in message


def test_an_unreachable_server_says_to_check_the_address() -> None:
    message = pair(f"http://127.0.0.1:{free_port()}")
    assert "cannot be reached (ConnectError). Check the address and the network." in message
    assert "Check-ins are kept" not in message
