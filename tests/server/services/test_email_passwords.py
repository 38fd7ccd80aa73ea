"""A member's own email is never accepted as their password (issue 25, failure 2).

Every path that sets a password is attacked as a person would use it: `sonta admin
create` and `sonta admin reset-password` as real processes, and the set-password link
over real HTTP. zxcvbn had scored `kwame.mensah@church.org` as a strong mix of words
and symbols, because only the address's parts were listed as the account's words.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from server.backend.core.config import load_settings
from server.backend.core.db import make_engine, make_session_factory
from server.backend.core.security.passwords import password_problem
from server.backend.main import create_app
from server.backend.models import Admin
from tests.server.conftest import SECRETS
from tests.server.live import serve
from tests.server.utils import FAST_ARGON2, FakeMailer

SONTA = Path(sys.executable).parent / "sonta"
EMAIL = "kwame.mensah@church.org"
STRONG = "copper kettle lantern violet"


@pytest.mark.parametrize(
    "password",
    [EMAIL, EMAIL.upper(), f"{EMAIL}!", f"2024 {EMAIL}", "Kwame.Mensah wants in 42"],
)
def test_the_account_email_or_its_name_part_is_refused(password: str) -> None:
    problem = password_problem(password, user_inputs=(EMAIL,))
    assert problem is not None and "email address" in problem and "passphrase" in problem


def test_an_unrelated_passphrase_stays_accepted() -> None:
    assert password_problem(STRONG, user_inputs=(EMAIL,)) is None


def _sonta(env: dict[str, str], *args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SONTA), *args],
        input=password + "\n",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _admins(env: dict[str, str]) -> dict[str, str | None]:
    engine = make_engine(load_settings(env))
    try:
        with make_session_factory(engine)() as session:
            return {a.email: a.password_hash for a in session.scalars(select(Admin))}
    finally:
        engine.dispose()


def test_sonta_admin_create_and_reset_refuse_the_email_and_change_nothing(
    tmp_path: Path,
) -> None:
    env = {**SECRETS, "SONTA_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    assert _sonta(env, "migrate", password="").returncode == 0
    refused = _sonta(env, "admin", "create", EMAIL, password=EMAIL)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "must not contain the account's email address" in refused.stdout + refused.stderr
    assert EMAIL not in _admins(env)
    created = _sonta(env, "admin", "create", EMAIL, password=STRONG)
    assert created.returncode == 0, created.stdout + created.stderr
    before = _admins(env)[EMAIL]
    reset = _sonta(env, "admin", "reset-password", EMAIL, password=EMAIL.upper())
    assert reset.returncode == 1, reset.stdout + reset.stderr
    assert _admins(env)[EMAIL] == before, "a refused reset must leave the password as it was"


def test_the_set_password_link_refuses_the_email_and_stays_usable(tmp_path: Path) -> None:
    env = {**SECRETS, "SONTA_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    created = _sonta(env, "admin", "create", EMAIL, password=STRONG)
    assert created.returncode == 0, created.stdout + created.stderr
    mailer = FakeMailer()
    app = create_app(load_settings(env), mailer=mailer, password_params=FAST_ARGON2)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        asked = api.post("/api/auth/password/request", json={"email": EMAIL})
        assert asked.status_code in (200, 202, 204), asked.text
        code = mailer.last_code(EMAIL)
        weak = api.post("/api/auth/password/set", json={"token": code, "password": EMAIL})
        assert weak.status_code == 422, weak.text
        assert "email address" in weak.json()["detail"]
        good = api.post(
            "/api/auth/password/set", json={"token": code, "password": "a brand new passphrase"}
        )
        assert good.status_code == 204, good.text
        signed_in = api.post(
            "/api/auth/login", json={"email": EMAIL, "password": "a brand new passphrase"}
        )
        assert signed_in.status_code == 200, signed_in.text
