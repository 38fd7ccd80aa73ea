"""Sign-in, throttling, one-time links, roles, and the super admin's first start."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from server.backend.core.config import Settings
from server.backend.core.context import make_mailer
from server.backend.core.security.passwords import PasswordHasher
from server.backend.main import create_app
from server.backend.models import Admin
from server.backend.services.accounts import LINK_SENT, NOT_EMAILED
from server.backend.services.mailer import ConsoleMailer, ResendMailer
from tests.server.conftest import ClientFactory
from tests.server.utils import (
    FAST_ARGON2,
    PASSWORD,
    FakeMailer,
    admin_headers,
    backend_of,
    bearer,
    login,
    make_admin,
)

WRONG = {"detail": "Incorrect email or password."}


def _login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_password_hashes_use_argon2id_with_owasp_parameters() -> None:
    digest = PasswordHasher().hash("a long enough password")
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_wrong_password_and_unknown_email_get_the_same_answer(client: TestClient) -> None:
    admin = make_admin(client)
    wrong_password = _login(client, admin.email, "not the password")
    unknown = _login(client, "nobody@example.org", "not the password")
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json() == WRONG


def test_disabled_admin_cannot_sign_in_and_learns_nothing(client: TestClient) -> None:
    admin = make_admin(client)
    boss = admin_headers(client, role="super_admin")
    client.patch(f"/api/admins/{admin.id}", json={"is_active": False}, headers=boss)
    response = _login(client, admin.email, PASSWORD)
    assert response.status_code == 401
    assert response.json() == WRONG


def test_email_is_matched_case_insensitively(client: TestClient) -> None:
    admin = make_admin(client, email="Mixed.Case@Example.org")
    assert _login(client, "MIXED.case@example.ORG", PASSWORD).status_code == 200
    assert admin.email == "mixed.case@example.org"


def test_login_is_throttled_per_account(client: TestClient) -> None:
    admin = make_admin(client)
    for _ in range(5):
        assert _login(client, admin.email, "wrong password").status_code == 401
    throttled = _login(client, admin.email, PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


def test_unknown_accounts_are_throttled_alike(client: TestClient) -> None:
    for _ in range(5):
        assert _login(client, "ghost@example.org", "wrong password").status_code == 401
    assert _login(client, "ghost@example.org", "wrong password").status_code == 429


def test_login_is_throttled_per_client(client: TestClient) -> None:
    for number in range(30):
        assert _login(client, f"user{number}@example.org", "wrong").status_code == 401
    admin = make_admin(client)
    assert _login(client, admin.email, PASSWORD).status_code == 429


def test_successful_sign_ins_do_not_spend_the_client_limit(any_client: TestClient) -> None:
    admin = make_admin(any_client)
    for number in range(40):  # the limit is 30 attempts per address in 15 minutes
        response = _login(any_client, admin.email, PASSWORD)
        assert response.status_code == 200, f"sign-in {number + 1}: {response.text}"
    # Failures still count: 30 wrong ones from the address, then even a right one waits.
    for number in range(30):
        assert _login(any_client, f"user{number}@example.org", "wrong").status_code == 401
    assert _login(any_client, admin.email, PASSWORD).status_code == 429


def test_successful_login_clears_the_account_counter(client: TestClient) -> None:
    admin = make_admin(client)
    for _ in range(4):
        _login(client, admin.email, "wrong password")
    assert _login(client, admin.email, PASSWORD).status_code == 200
    for _ in range(4):
        _login(client, admin.email, "wrong password")
    assert _login(client, admin.email, PASSWORD).status_code == 200


def test_magic_link_signs_in_once(client: TestClient, mailer: FakeMailer) -> None:
    admin = make_admin(client, password=None)
    response = client.post("/api/auth/magic-link", json={"email": admin.email})
    assert response.status_code == 202
    code = mailer.last_code(admin.email)
    assert "https://attendance.example.org/auth/magic?token=" in mailer.sent[-1][2]
    first = client.post("/api/auth/magic-link/verify", json={"token": code})
    assert first.status_code == 200
    assert (
        client.get("/api/auth/me", headers=bearer(first.json()["access_token"])).status_code == 200
    )
    replay = client.post("/api/auth/magic-link/verify", json={"token": code})
    assert replay.status_code == 401


def test_magic_link_answer_does_not_reveal_unknown_emails(
    client: TestClient, mailer: FakeMailer
) -> None:
    known = make_admin(client)
    a = client.post("/api/auth/magic-link", json={"email": known.email})
    b = client.post("/api/auth/magic-link", json={"email": "stranger@example.org"})
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()
    assert [to for to, _, _ in mailer.sent] == [known.email]


def test_magic_link_requests_are_throttled(client: TestClient) -> None:
    admin = make_admin(client)
    codes = [
        client.post("/api/auth/magic-link", json={"email": admin.email}).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]


def test_super_admin_exists_after_first_start_and_sets_a_password(
    make_client: ClientFactory, pg_settings: Settings, mailer: FakeMailer
) -> None:
    settings = pg_settings.model_copy(update={"super_admin_email": "Pastor@Example.org"})
    client = make_client(settings)
    code = mailer.last_code("pastor@example.org")
    weak = client.post("/api/auth/password/set", json={"token": code, "password": "short"})
    assert weak.status_code == 422  # refused, but the link is not used up
    done = client.post("/api/auth/password/set", json={"token": code, "password": PASSWORD})
    assert done.status_code == 204
    me = client.get(
        "/api/auth/me", headers=bearer(login(client, "pastor@example.org")["access_token"])
    )
    assert me.json()["role"] == "super_admin"
    again = client.post("/api/auth/password/set", json={"token": code, "password": PASSWORD + "!"})
    assert again.status_code == 401
    # A second start (or a second replica) does not create or mail it again.
    make_client(settings)
    assert len([m for m in mailer.sent if m[0] == "pastor@example.org"]) == 1


def test_setting_a_password_ends_existing_sessions(client: TestClient, mailer: FakeMailer) -> None:
    admin = make_admin(client)
    tokens = login(client, admin.email)
    client.post("/api/auth/password/request", json={"email": admin.email})
    code = mailer.last_code(admin.email)
    new_password = "a brand new passphrase"
    assert (
        client.post(
            "/api/auth/password/set", json={"token": code, "password": new_password}
        ).status_code
        == 204
    )
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert _login(client, admin.email, new_password).status_code == 200


def test_only_super_admins_manage_admins(client: TestClient, mailer: FakeMailer) -> None:
    plain = admin_headers(client)
    assert client.get("/api/admins", headers=plain).status_code == 403
    boss = admin_headers(client, role="super_admin")
    created = client.post(
        "/api/admins", json={"email": "new@example.org", "role": "admin"}, headers=boss
    )
    assert created.status_code == 201
    assert created.json()["has_password"] is False
    assert mailer.sent[-1][0] == "new@example.org"
    duplicate = client.post("/api/admins", json={"email": "NEW@example.org"}, headers=boss)
    assert duplicate.status_code == 409


def test_super_admin_cannot_disable_themself(client: TestClient) -> None:
    boss = make_admin(client, role="super_admin")
    headers = bearer(login(client, boss.email)["access_token"])
    response = client.patch(f"/api/admins/{boss.id}", json={"is_active": False}, headers=headers)
    assert response.status_code == 409


def test_resend_mailer_posts_to_the_resend_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "email-1"})

    mailer = ResendMailer(
        api_key="re_test",
        sender="Sonta <no-reply@example.org>",
        transport=httpx.MockTransport(handler),
    )
    mailer.send(to="a@example.org", subject="Hello", text="Body")
    request = seen[0]
    assert str(request.url) == "https://api.resend.com/emails"
    assert request.headers["authorization"] == "Bearer re_test"
    body = request.read()
    assert b'"to":["a@example.org"]' in body.replace(b" ", b"")


def test_mail_goes_through_resend_only_when_configured(embedded_settings: Settings) -> None:
    assert isinstance(make_mailer(embedded_settings), ConsoleMailer)
    only_key = embedded_settings.model_copy(update={"resend_api_key": "re_x"})
    assert isinstance(make_mailer(only_key), ConsoleMailer)
    both = only_key.model_copy(update={"email_from": "Sonta <no-reply@example.org>"})
    assert isinstance(make_mailer(both), ResendMailer)


def test_a_failing_email_provider_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(422, json={"message": "bad from"})
    )
    mailer = ResendMailer(api_key="re_test", sender="x@example.org", transport=transport)
    with caplog.at_level(logging.ERROR):
        mailer.send(to="a@example.org", subject="Hello", text="Body")
    assert "Sending email to a@example.org failed" in caplog.text


def test_password_link_answer_does_not_reveal_unknown_emails(
    client: TestClient, mailer: FakeMailer
) -> None:
    known = make_admin(client)
    a = client.post("/api/auth/password/request", json={"email": known.email})
    b = client.post("/api/auth/password/request", json={"email": "stranger@example.org"})
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()
    assert [to for to, _, _ in mailer.sent] == [known.email]


def test_an_account_without_a_password_never_verifies() -> None:
    hasher = PasswordHasher(FAST_ARGON2)
    assert hasher.verify(None, "sonta-timing-equaliser") is False
    assert hasher.verify(None, "") is False
    assert hasher.verify(hasher.hash("a real passphrase"), "a real passphrase") is True


def test_an_admin_address_stored_before_todays_rules_still_signs_in_and_lists(
    any_client: TestClient, mailer: FakeMailer
) -> None:
    """Addresses are checked on the way in; an admin whose stored address today's rules
    refuse (a special-use domain) still gets their own account and the admin list, rather
    than a server error on every screen."""
    admin = make_admin(any_client, role="super_admin")
    with backend_of(any_client).sessions() as session:
        session.execute(update(Admin).where(Admin.id == admin.id).values(email="head@church.local"))
        session.commit()
    headers = bearer(login(any_client, "head@church.local")["access_token"])
    me = any_client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "head@church.local"
    listed = any_client.get("/api/admins", headers=headers)
    assert listed.status_code == 200, listed.text
    assert "head@church.local" in [a["email"] for a in listed.json()]
    link = any_client.post("/api/auth/magic-link", json={"email": "Head@Church.local"})
    assert link.status_code == 202 and mailer.last_code("head@church.local")


def test_an_address_missing_its_at_sign_or_domain_is_refused_saying_what_to_type(
    client: TestClient, mailer: FakeMailer
) -> None:
    for typed in ("ada.example.org", "ada@", "@example.org", " "):
        for path, body in (
            ("/api/auth/login", {"email": typed, "password": PASSWORD}),
            ("/api/auth/magic-link", {"email": typed}),
            ("/api/auth/password/request", {"email": typed}),
        ):
            answer = client.post(path, json=body)
            assert answer.status_code == 422, (path, typed, answer.text)
            assert "enter the whole email address, like name@example.org" in answer.text
    assert mailer.sent == []


@pytest.fixture
def client_without_email(pg_settings: Settings) -> Iterator[TestClient]:
    """An app whose settings name no email provider: the real development mailer."""
    console = io.StringIO()
    app = create_app(pg_settings, mailer=ConsoleMailer(console), password_params=FAST_ARGON2)
    with TestClient(app) as made:
        yield made


def test_without_email_requests_say_nothing_was_emailed_for_any_address(
    client_without_email: TestClient,
) -> None:
    known = make_admin(client_without_email)
    for path in ("/api/auth/magic-link", "/api/auth/password/request"):
        answers = [
            client_without_email.post(path, json={"email": email})
            for email in (known.email, "stranger@example.org")
        ]
        assert [a.status_code for a in answers] == [202, 202]
        assert answers[0].json() == answers[1].json() == {"detail": NOT_EMAILED}


def test_without_email_the_super_admin_gets_the_one_time_link_and_it_works_once(
    client_without_email: TestClient,
) -> None:
    client = client_without_email
    boss = admin_headers(client, role="super_admin")
    invited = client.post("/api/admins", json={"email": "new@example.org"}, headers=boss)
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert body["email"] == "new@example.org" and not body["has_password"]
    assert body["detail"].startswith("Email is not set up on this server, so nothing was")
    assert "Give new@example.org this one-time link yourself" in body["detail"]
    link = body["password_link"]
    assert "/auth/set-password?token=" in link
    token = link.split("token=", 1)[1]
    done = client.post("/api/auth/password/set", json={"token": token, "password": PASSWORD})
    assert done.status_code == 204, done.text
    assert login(client, "new@example.org")["access_token"]
    again = client.post("/api/auth/password/set", json={"token": token, "password": PASSWORD})
    assert again.status_code == 401

    admin_id = body["id"]
    reset = client.post(f"/api/admins/{admin_id}/password-link", headers=boss)
    assert reset.status_code == 202
    assert reset.json()["password_link"] and reset.json()["password_link"] != link


def test_with_email_the_link_is_emailed_and_never_answered(
    client: TestClient, mailer: FakeMailer
) -> None:
    boss = admin_headers(client, role="super_admin")
    invited = client.post("/api/admins", json={"email": "new@example.org"}, headers=boss)
    assert invited.status_code == 201, invited.text
    assert invited.json()["password_link"] is None
    assert invited.json()["detail"] == (
        "A one-time link to set a password was emailed to new@example.org."
    )
    assert mailer.sent[-1][0] == "new@example.org"
    asked = client.post("/api/auth/magic-link", json={"email": "new@example.org"})
    assert asked.json() == {"detail": LINK_SENT}
