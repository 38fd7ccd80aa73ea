"""Sign-in, sessions and one-time links for admins.

Every answer to an unauthenticated caller is the same whether or not the email
belongs to an admin, and failed attempts are counted per account and per client in
the shared store, so throttling holds across replicas.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.backend.core import public_url
from server.backend.core.context import Backend
from server.backend.core.embedded import disk_full, embedded_problem
from server.backend.core.security.passwords import password_problem
from server.backend.core.security.tokens import TokenClaims, TokenPair
from server.backend.crud import admins as admins_crud
from server.backend.crud import audit
from server.backend.crud.refresh_families import RefreshFamilies
from server.backend.errors import AuthError, BadRequestError
from server.backend.models import Admin, utcnow
from server.backend.services import throttle as limits

logger = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Incorrect email or password."
LINK_SENT = "If this email belongs to an admin, a message is on its way."
NOT_EMAILED = (
    "Email is not set up on this server, so nothing was emailed. Ask a super admin for a "
    "one-time link (Admins screen, Send reset link), or sign in with your password."
)
MAGIC_LINK_TTL = 15 * 60
PASSWORD_LINK_TTL = 24 * 3600


def _once_key(purpose: str, token: str) -> str:
    return f"once:{purpose}:{hashlib.sha256(token.encode()).hexdigest()}"


def login(
    backend: Backend, session: Session, *, email: str, password: str, client_ip: str
) -> TokenPair:
    """Email + password sign-in, throttled per account and client, and per client.

    The attempt is reserved (counted) before the password is checked, so parallel
    requests cannot all pass a check made before any of them was counted. A successful
    sign-in gives its reservation back: only failures spend the limits.
    """
    email = admins_crud.normalise_email(email)
    pair = f"{email}|{client_ip}"
    backend.throttle.consume("login-client", client_ip, limits.LOGIN_PER_CLIENT)
    backend.throttle.consume("login-account", pair, limits.LOGIN_PER_ACCOUNT)
    backend.throttle.consume("login-account-all", email, limits.LOGIN_PER_ACCOUNT_ALL_CLIENTS)
    admin = admins_crud.get_by_email(session=session, email=email)
    verified = backend.passwords.verify(admin.password_hash if admin else None, password)
    if admin is None or not verified or not admin.is_active:
        raise AuthError(WRONG_CREDENTIALS)
    backend.throttle.refund("login-client", client_ip)
    backend.throttle.reset("login-account", pair)
    backend.throttle.reset("login-account-all", email)
    if admin.password_hash and backend.passwords.needs_rehash(admin.password_hash):
        admin.password_hash = backend.passwords.hash(password)
    return _signed_in(backend, session, admin, "auth.login", client_ip)


def _signed_in(
    backend: Backend, session: Session, admin: Admin, action: str, client_ip: str
) -> TokenPair:
    admin_id, session_version = admin.id, admin.session_version
    _record_sign_in(session, admin, action, client_ip)
    return _issue(backend, admin_id, session_version)


def _record_sign_in(session: Session, admin: Admin, action: str, client_ip: str) -> None:
    """Last sign-in time and the audit entry (and a password rehash): useful, not needed
    to sign in, so a full disk skips them with a warning instead of refusing the admin."""
    admin.last_login_at = utcnow()
    audit.record(session=session, actor=admin, action=action, client_ip=client_ip)
    try:
        session.commit()
    except OperationalError as exc:
        if not disk_full(exc):
            raise
        session.rollback()
        logger.warning("The disk is full: %s for admin %s was not recorded", action, admin.id)


def _issue(backend: Backend, admin_id: uuid.UUID, session_version: int) -> TokenPair:
    """The sign-in's token family, its one essential write: on a full embedded disk it is
    written into the room the space reserve gives up (`space_reserve`)."""
    try:
        return backend.tokens.issue(admin_id, session_version)
    except OperationalError as exc:
        if embedded_problem(exc) != "full" or not backend.space_reserve.release():
            raise
    backend.embedded_trouble.note("full")
    return backend.tokens.issue(admin_id, session_version)


def authenticate(
    backend: Backend, session: Session, access_token: str
) -> tuple[Admin, TokenClaims]:
    """The admin behind a live access token; refuses ended sessions and disabled admins."""
    claims = backend.tokens.verify(access_token, "access")
    return live_admin_of(backend, session, claims), claims


# The sign-in check, built once: it runs on every signed-in request, and building the
# statement anew each time cost more CPU than PostgreSQL spends answering it.
_LIVE_ADMIN = select(Admin).where(
    Admin.id == bindparam("admin_id"),
    Admin.is_active.is_(True),
    Admin.session_version == bindparam("session_version"),
    RefreshFamilies.alive(bindparam("family"), now=bindparam("now")),
)


def live_admin(
    backend: Backend, session: Session, admin_id: uuid.UUID, session_version: int, family: str
) -> Admin | None:
    """The admin if active, on this session version, with the sign-in's token family still
    live; else None. One query."""
    parameters = {
        "admin_id": admin_id,
        "session_version": session_version,
        "family": family,
        "now": backend.tokens.now(),
    }
    return session.scalars(_LIVE_ADMIN, parameters).one_or_none()


def live_admin_of(backend: Backend, session: Session, claims: TokenClaims) -> Admin:
    """The admin behind verified claims; AuthError if the sign-in has ended."""
    admin = live_admin(backend, session, claims.admin_id, claims.session_version, claims.family)
    if admin is None:
        raise AuthError("This session has ended; please sign in again.")
    return admin


def refresh(backend: Backend, session: Session, refresh_token: str) -> TokenPair:
    """Rotate a refresh token (reuse revokes the family) for a still-valid admin."""
    claims, pair = backend.tokens.rotate(refresh_token)
    try:
        live_admin_of(backend, session, claims)
    except AuthError:
        backend.tokens.revoke_family(claims.family)
        raise
    return pair


def logout(backend: Backend, session: Session, admin: Admin, claims: TokenClaims, ip: str) -> None:
    """End this sign-in: its refresh family and every access token issued in it."""
    backend.tokens.revoke_family(claims.family)
    audit.record(session=session, actor=admin, action="auth.logout", client_ip=ip)
    session.commit()


def request_answer(backend: Backend) -> str:
    """What an emailed-link request hears: the same for any email, and true about email."""
    return LINK_SENT if backend.mailer.delivers else NOT_EMAILED


def request_magic_link(backend: Backend, session: Session, *, email: str, client_ip: str) -> str:
    """Email a one-time sign-in link to an active admin; silent for anyone else.
    Returns the answer for the requester (`request_answer`)."""
    admin = _throttled_lookup(backend, session, "magic", email, client_ip)
    if admin is None or not admin.is_active:
        return request_answer(backend)
    token = _issue_once(backend, "magic", admin.id, MAGIC_LINK_TTL)
    link = public_url.join(backend.settings.public_base_url, f"/auth/magic?token={token}")
    backend.mailer.send(
        to=admin.email,
        subject="Your Sonta Attendance sign-in link",
        text=f"Your one-time code: {token}\n\nPaste it into the Code field of the Sonta "
        "Attendance app's sign-in screen within 15 minutes (it works once).\n\n"
        f"This link shows the same code, or signs in a browser to show a meeting's QR code:"
        f"\n{link}\n",
    )
    return request_answer(backend)


def redeem_magic_link(
    backend: Backend, session: Session, *, token: str, client_ip: str
) -> TokenPair:
    backend.throttle.consume("codes-client", client_ip, limits.CODES_PER_CLIENT)
    admin_id = backend.once.take(_once_key("magic", token))
    admin = session.get(Admin, uuid.UUID(admin_id)) if admin_id else None
    if admin is None or not admin.is_active:
        raise AuthError("This sign-in link is invalid, expired or already used.")
    return _signed_in(backend, session, admin, "auth.login_magic_link", client_ip)


def request_password_link(backend: Backend, session: Session, *, email: str, client_ip: str) -> str:
    """Send a set-password link to an active admin; silent for anyone else. Returns the
    answer for the requester (`request_answer`)."""
    admin = _throttled_lookup(backend, session, "password", email, client_ip)
    if admin is not None and admin.is_active:
        send_password_link(backend, admin)
    return request_answer(backend)


def send_password_link(backend: Backend, admin: Admin) -> str | None:
    """Email `admin` a one-time set-password link. When email is not set up, the link is
    returned instead, for the super admin who asked to pass on (it is shown only then)."""
    token = _issue_once(backend, "password", admin.id, PASSWORD_LINK_TTL)
    link = public_url.join(backend.settings.public_base_url, f"/auth/set-password?token={token}")
    backend.mailer.send(
        to=admin.email,
        subject="Set your Sonta Attendance password",
        text=f"Choose your password within 24 hours with this link (it works once):\n{link}\n\n"
        f"Or enter this one-time code: {token}\n",
    )
    return None if backend.mailer.delivers else link


def set_password(
    backend: Backend, session: Session, *, token: str, password: str, client_ip: str
) -> None:
    """Use a set-password link once; a refused password does not use up the link."""
    backend.throttle.consume("codes-client", client_ip, limits.CODES_PER_CLIENT)
    key = _once_key("password", token)
    pending = backend.once.get(key)
    if pending is None:
        raise AuthError("This link is invalid, expired or already used.")
    owner = session.get(Admin, uuid.UUID(pending))
    problem = password_problem(password, user_inputs=(owner.email,) if owner else ())
    if problem:
        raise BadRequestError(problem)
    admin_id = backend.once.take(key)
    admin = session.get(Admin, uuid.UUID(admin_id)) if admin_id else None
    if admin is None or not admin.is_active:
        raise AuthError("This link is invalid, expired or already used.")
    admins_crud.set_password(
        session=session, admin=admin, password_hash=backend.passwords.hash(password)
    )
    audit.record(session=session, actor=admin, action="auth.password_set", client_ip=client_ip)
    session.commit()


def _issue_once(backend: Backend, purpose: str, admin_id: uuid.UUID, ttl: int) -> str:
    """A new one-time token for the admin; it voids the one sent before for this purpose,
    so only the newest link in someone's mailbox works."""
    token = secrets.token_urlsafe(32)
    key, latest = _once_key(purpose, token), f"once-latest:{purpose}:{admin_id}"
    earlier = backend.once.get(latest)
    if earlier is not None:
        backend.once.delete(earlier)
    backend.once.set(key, str(admin_id), ttl=ttl)
    backend.once.set(latest, key, ttl=ttl)
    return token


def _throttled_lookup(
    backend: Backend, session: Session, purpose: str, email: str, client_ip: str
) -> Admin | None:
    """Count an email-sending request per client, and per purpose, account and client.

    Nothing counts per account alone: requests from elsewhere never block the link an
    admin asks for from their own device.
    """
    email = admins_crud.normalise_email(email)
    backend.throttle.consume("email-client", client_ip, limits.EMAIL_PER_CLIENT)
    backend.throttle.consume(f"email-{purpose}", f"{email}|{client_ip}", limits.EMAIL_PER_ACCOUNT)
    return admins_crud.get_by_email(session=session, email=email)
