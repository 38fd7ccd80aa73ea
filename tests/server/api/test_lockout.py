"""Sign-in throttles that strangers cannot turn against an admin (issue 13, defect 4 and
the lockout hardening): attempts are reserved before the password is checked, counted
per account *and* client, and the emailed link stays a recovery path."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient

from tests.server.utils import PASSWORD, FakeMailer, backend_of, make_admin


def from_address(client: TestClient, address: str) -> TestClient:
    """Another caller of the same running app, seen at `address`."""
    return TestClient(client.app, client=(address, 50000))


def _login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(client: TestClient) -> None:
    """40 parallel wrong passwords on one account got 12 password checks (limit 5)."""
    admin = make_admin(client)
    passwords = backend_of(client).passwords
    checks = 0
    lock = threading.Lock()
    real_verify = passwords.verify

    def counting_verify(password_hash: str | None, password: str) -> bool:
        nonlocal checks
        with lock:
            checks += 1
        return real_verify(password_hash, password)

    passwords.verify = counting_verify  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(
            pool.map(lambda _: _login(client, admin.email, "wrong").status_code, range(40))
        )
    assert checks <= 5, f"{checks} password checks"
    assert codes.count(401) == checks and codes.count(429) == 40 - checks


def test_a_stranger_cannot_lock_an_admin_out(client: TestClient) -> None:
    admin = make_admin(client)
    stranger = from_address(client, "203.0.113.7")
    for _ in range(5):
        assert _login(stranger, admin.email, "wrong password").status_code == 401
    assert _login(stranger, admin.email, PASSWORD).status_code == 429
    own = from_address(client, "198.51.100.20")
    assert _login(own, admin.email, PASSWORD).status_code == 200


def test_a_strangers_link_requests_leave_the_admins_own_link(
    client: TestClient, mailer: FakeMailer
) -> None:
    admin = make_admin(client)
    stranger = from_address(client, "203.0.113.7")
    codes = [
        stranger.post("/api/auth/magic-link", json={"email": admin.email}).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    # Magic links and password links are counted apart: the reset link still goes out.
    reset = stranger.post("/api/auth/password/request", json={"email": admin.email})
    assert reset.status_code == 202
    own = from_address(client, "198.51.100.20")
    assert own.post("/api/auth/magic-link", json={"email": admin.email}).status_code == 202
    assert len(mailer.sent) == 5


def test_guessing_from_many_addresses_leaves_the_magic_link(
    client: TestClient, mailer: FakeMailer
) -> None:
    admin = make_admin(client)
    for number in range(100):
        guesser = from_address(client, f"203.0.113.{number}")
        assert _login(guesser, admin.email, "wrong password").status_code == 401
    own = from_address(client, "198.51.100.20")
    assert _login(own, admin.email, PASSWORD).status_code == 429  # the account-wide cap
    assert own.post("/api/auth/magic-link", json={"email": admin.email}).status_code == 202
    signed_in = own.post(
        "/api/auth/magic-link/verify", json={"token": mailer.last_code(admin.email)}
    )
    assert signed_in.status_code == 200
