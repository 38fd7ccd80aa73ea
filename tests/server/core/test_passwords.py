"""New passwords: length over composition, and no common or guessable ones (NIST SP
800-63B; issue 13 defect 7: `123456789012`, `passwordpassword`, `Password1234`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.backend.core.security.passwords import password_problem
from tests.server.utils import FakeMailer, make_admin

COMMON = ["123456789012", "passwordpassword", "Password1234", "qwertyuiop123", "iloveyou1234"]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused_with_advice(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None and "too easy to guess" in problem
    assert "passphrase" in problem


def test_a_password_built_from_the_account_email_is_refused() -> None:
    assert password_problem("kwamemensah2024", user_inputs=("kwame.mensah@example.org",))
    assert password_problem("kwamemensah2024") is None


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "a brand new passphrase", "bright-kettle-4-ocean"]
)
def test_long_passphrases_need_no_symbols_or_capitals(password: str) -> None:
    assert password_problem(password) is None


def test_setting_a_common_password_is_refused_and_keeps_the_link(
    client: TestClient, mailer: FakeMailer
) -> None:
    admin = make_admin(client, role="super_admin", password=None)
    client.post("/api/auth/password/request", json={"email": admin.email})
    code = mailer.last_code(admin.email)
    weak = client.post("/api/auth/password/set", json={"token": code, "password": "123456789012"})
    assert weak.status_code == 422 and "too easy to guess" in weak.json()["detail"]
    strong = {"token": code, "password": "correct horse battery staple"}
    assert client.post("/api/auth/password/set", json=strong).status_code == 204
