"""The desktop app's typed client for the admin API (`/api/...`), with no Qt.

Every authenticated call goes through `RefreshingAuth`, so a token that expires mid-session
is renewed without the caller noticing; a sign-in the server ended raises
`SessionEndedError`. Refusals raise `AdminError` carrying the server's own message (its
`detail`), which the screens show as is. The transport is injected, so tests talk to a
real backend over loopback. Enrolment sends embeddings only; photos are sent only to the
photo-enrolment endpoint the admin chooses, which keeps no copy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, cast

import httpx
from keyring.backend import KeyringBackend

from kiosk.admin.api_types import (
    AdminAccount,
    AttemptsPage,
    Attendance,
    Badge,
    BadgeCard,
    DisplayLink,
    DisplayLinkMade,
    Invitation,
    Json,
    Kiosk,
    LiveEvent,
    Meeting,
    MeetingQr,
    MeetingReport,
    Member,
    MemberHistory,
    MemberPage,
    PasswordLinkSent,
    Template,
)
from kiosk.admin.auth import RefreshingAuth, Tokens, TokenStore
from kiosk.errors import AdminError, SessionEndedError

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The server sends a keep-alive every 15 s: silence for longer means the connection is dead
# (a dropped network leaves it half-open forever otherwise).
STREAM_SILENCE_S = 35.0


def server_message(response: httpx.Response) -> str:
    """The server's `detail` as one sentence (validation lists joined field by field)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail:
            where = (
                ".".join(str(x) for x in item.get("loc", [])[1:]) if isinstance(item, dict) else ""
            )
            msg = item.get("msg", item) if isinstance(item, dict) else item
            parts.append(f"{where}: {msg}" if where else str(msg))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail)
    return str(detail) if detail else f"HTTP {response.status_code}"


class AdminClient:
    """Calls the server at `base_url` for one admin; tokens live in `store` (the keyring)."""

    def __init__(
        self,
        base_url: str,
        *,
        keyring_backend: KeyringBackend | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        stream_silence_s: float = STREAM_SILENCE_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.stream_silence_s = stream_silence_s
        self.tokens = TokenStore(self.base_url, keyring_backend)
        self.auth = RefreshingAuth(self.tokens)
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=timeout, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    # -- the HTTP boundary -------------------------------------------------------------

    def _send(self, method: str, path: str, *, signed_in: bool = True, **kw: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, auth=self.auth if signed_in else None, **kw)
        except httpx.HTTPError as exc:
            raise AdminError(
                f"The server at {self.base_url} cannot be reached ({type(exc).__name__}); "
                "check the network and try again."
            ) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    @staticmethod
    def _error(response: httpx.Response) -> AdminError:
        details = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("detail"), dict):
            details = {k: v for k, v in body["detail"].items() if k != "message"}
        return AdminError(server_message(response), status=response.status_code, details=details)

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._send(method, path, **kw)
        return response.json() if response.content else None

    # -- signing in and out --------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.tokens.load() is not None

    def _keep(self, body: Json) -> AdminAccount:
        self.tokens.save(Tokens.from_answer(body))
        self.auth.signed_in()
        return self.me()

    def sign_in(self, email: str, password: str) -> AdminAccount:
        """Sign in with email and password; the tokens go to the keyring."""
        body = self._json(
            "POST", "/api/auth/login", json={"email": email, "password": password}, signed_in=False
        )
        return self._keep(cast(Json, body))

    def request_code(self, email: str) -> str:
        """Email a one-time sign-in code; the server's answer is the same for any email."""
        body = self._json("POST", "/api/auth/magic-link", json={"email": email}, signed_in=False)
        return str(cast(Json, body)["detail"])

    def sign_in_with_code(self, code: str) -> AdminAccount:
        body = self._json(
            "POST", "/api/auth/magic-link/verify", json={"token": code.strip()}, signed_in=False
        )
        return self._keep(cast(Json, body))

    def me(self) -> AdminAccount:
        return cast(AdminAccount, self._json("GET", "/api/auth/me"))

    def sign_out(self) -> None:
        """End the sign-in on the server (best effort) and remove the tokens here."""
        try:
            if self.signed_in:
                self._send("POST", "/api/auth/logout")
        except AdminError as exc:
            log.info("sign-out on the server failed (%s); removing the tokens here", exc)
        finally:
            self.tokens.clear()

    # -- members and their faces ---------------------------------------------------------

    def members(
        self, q: str = "", *, ministry: str = "", status: str = "", skip: int = 0, limit: int = 100
    ) -> tuple[list[Member], int]:
        page = self.member_page(q, ministry=ministry, status=status, skip=skip, limit=limit)
        return page["data"], page["count"]

    def member_page(
        self, q: str = "", *, ministry: str = "", status: str = "", skip: int = 0, limit: int = 100
    ) -> MemberPage:
        """A page of the search, saying whether its count stopped at the server's cap."""
        params = {k: v for k, v in {"q": q, "ministry": ministry, "status": status}.items() if v}
        body = self._json("GET", "/api/members", params={**params, "skip": skip, "limit": limit})
        return cast(MemberPage, body)

    def all_members(self, *, ministry: str = "", status: str = "") -> list[Member]:
        """Every member matching, page after page (a ministry's badge sheet)."""
        found: list[Member] = []
        while True:
            page = self.member_page(ministry=ministry, status=status, skip=len(found), limit=500)
            found += page["data"]
            if not page["has_more"]:  # the count stops at a cap, so it cannot end the loop
                return found

    def member(self, member_id: str) -> Member:
        return cast(Member, self._json("GET", f"/api/members/{member_id}"))

    def create_member(self, full_name: str, ministry: str, **fields: Any) -> Member:
        payload = {"full_name": full_name, "ministry": ministry, **fields}
        return cast(Member, self._json("POST", "/api/members", json=payload))

    def update_member(self, member_id: str, **fields: Any) -> Member:
        return cast(Member, self._json("PATCH", f"/api/members/{member_id}", json=fields))

    def deactivate_member(self, member_id: str) -> Member:
        return cast(Member, self._json("POST", f"/api/members/{member_id}/deactivate"))

    def delete_member(self, member_id: str) -> None:
        self._send("DELETE", f"/api/members/{member_id}")

    def set_consent(self, member_id: str, given: bool) -> Member:
        """Record consent; withdrawing it erases the member's face templates on the server."""
        body = self._json("PUT", f"/api/members/{member_id}/consent", json={"given": given})
        return cast(Member, body)

    def import_members(self, csv_file: Path, *, dry_run: bool, mode: str = "create") -> Json:
        """The per-row report; with `dry_run` nothing is saved. A bad file's report too.
        `mode="update"` changes the members the rows match instead of adding them."""
        files = {"file": (csv_file.name, csv_file.read_bytes(), "text/csv")}
        params = {"dry_run": dry_run, "mode": mode}
        try:
            body = self._json("POST", "/api/members/import", params=params, files=files)
        except AdminError as exc:
            if exc.details and "errors" in exc.details:
                return {"saved": False, "message": str(exc), **exc.details}
            raise
        return cast(Json, body)

    def templates(self, member_id: str) -> list[Template]:
        return cast(list[Template], self._json("GET", f"/api/members/{member_id}/templates"))

    def enrol_embedding(self, member_id: str, embedding: list[float], model_id: str) -> Template:
        """Store one enrolment embedding; a face already enrolled for someone else is a
        409 whose message names them (`AdminError.details["member_id"]`)."""
        payload = {"embedding": [float(x) for x in embedding], "model_id": model_id}
        body = self._json("POST", f"/api/members/{member_id}/templates", json=payload)
        return cast(Template, body)

    def enrol_photo(self, member_id: str, photo: Path) -> Template:
        files = {"photo": (photo.name, photo.read_bytes(), "application/octet-stream")}
        body = self._json("POST", f"/api/members/{member_id}/templates/photo", files=files)
        return cast(Template, body)

    def erase_biometrics(self, member_id: str) -> str:
        return str(self._json("DELETE", f"/api/members/{member_id}/templates")["detail"])

    # -- the live event stream -----------------------------------------------------------

    def events(
        self, meeting_id: str, opened: Callable[[httpx.Response], None] | None = None
    ) -> Iterator[LiveEvent]:
        """The meeting's live events until the stream ends (the caller reconnects);
        `opened` gets the response, so another thread can end a waiting stream."""
        # A single-use ticket (fetched through the refreshing auth) opens the stream: the
        # auth flow reads whole bodies, which a stream never ends.
        path = f"/api/meetings/{meeting_id}/events"
        ticket = str(self._json("POST", f"{path}/ticket")["ticket"])
        try:
            with self._http.stream(
                "GET",
                path,
                params={"ticket": ticket},
                timeout=httpx.Timeout(30.0, read=self.stream_silence_s),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                if opened is not None:
                    opened(response)
                yield from _parse_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise AdminError(f"The live stream dropped ({type(exc).__name__}).") from exc

    # -- meetings ------------------------------------------------------------------------

    def meetings(self, *, skip: int = 0, limit: int = 100) -> list[Meeting]:
        body = self._json("GET", "/api/meetings", params={"skip": skip, "limit": limit})
        return cast(list[Meeting], body["data"])

    def meeting(self, meeting_id: str) -> Meeting:
        return cast(Meeting, self._json("GET", f"/api/meetings/{meeting_id}"))

    def create_meeting(self, **fields: Any) -> Meeting:
        return cast(Meeting, self._json("POST", "/api/meetings", json=fields))

    def update_meeting(self, meeting_id: str, **fields: Any) -> Meeting:
        return cast(Meeting, self._json("PATCH", f"/api/meetings/{meeting_id}", json=fields))

    def meeting_action(
        self, meeting_id: str, action: Literal["start", "end", "cancel", "reopen"]
    ) -> Meeting:
        return cast(Meeting, self._json("POST", f"/api/meetings/{meeting_id}/{action}"))

    def reopen_meeting(self, meeting_id: str, ends_at: str | None = None) -> Meeting:
        """Take check-ins again after the end; a meeting whose end time passed needs a
        later `ends_at` (ISO-8601)."""
        body = {"ends_at": ends_at} if ends_at else None
        return cast(Meeting, self._json("POST", f"/api/meetings/{meeting_id}/reopen", json=body))

    def copy_meeting(self, meeting_id: str, **fields: Any) -> Meeting:
        """A new scheduled meeting like this one: a week later unless `starts_at` says."""
        path = f"/api/meetings/{meeting_id}/copy"
        return cast(Meeting, self._json("POST", path, json=fields or None))

    def meeting_qr(self, meeting_id: str) -> MeetingQr:
        return cast(MeetingQr, self._json("GET", f"/api/meetings/{meeting_id}/qr"))

    # -- attendance and review -----------------------------------------------------------

    def attendance(self, meeting_id: str, *, status: str = "") -> list[Attendance]:
        params: dict[str, Any] = {"meeting_id": meeting_id, "limit": 500}
        if status:
            params["status"] = status
        return cast(list[Attendance], self._json("GET", "/api/attendance", params=params)["data"])

    def review_queue(self, meeting_id: str = "") -> list[Attendance]:
        params = {"meeting_id": meeting_id} if meeting_id else {}
        return cast(list[Attendance], self._json("GET", "/api/reviews", params=params)["data"])

    def evidence(self, record_id: str) -> bytes:
        """The JPEG face crop kept for a check-in awaiting review."""
        return self._send("GET", f"/api/reviews/{record_id}/evidence").content

    def decide(
        self, record_id: str, decision: Literal["approve", "reject"], note: str = ""
    ) -> Json:
        body = self._json("POST", f"/api/reviews/{record_id}/{decision}", json={"note": note})
        return cast(Json, body)

    def manual_checkin(self, meeting_id: str, member_id: str, reason: str) -> Json:
        payload = {"member_id": member_id, "note": reason}
        path = f"/api/attendance/meetings/{meeting_id}/manual"
        return cast(Json, self._json("POST", path, json=payload))

    def attempts(self, meeting_id: str, *, skip: int = 0, limit: int = 100) -> AttemptsPage:
        """A meeting's refused and suspicious attempts, newest first, with their total."""
        params = {"meeting_id": meeting_id, "skip": skip, "limit": limit}
        return cast(AttemptsPage, self._json("GET", "/api/attempts", params=params))

    # -- reports and exports -------------------------------------------------------------

    def meeting_report(self, meeting_id: str) -> MeetingReport:
        return cast(MeetingReport, self._json("GET", f"/api/reports/meetings/{meeting_id}"))

    def message_absentees(self, meeting_id: str, text: str) -> Json:
        """Email the meeting's absent members who were not emailed about it before; the
        answer names who was emailed, who had been already, and who has no email."""
        path = f"/api/reports/meetings/{meeting_id}/absentees/message"
        return cast(Json, self._json("POST", path, json={"text": text}))

    def ministries(self) -> list[str]:
        """Every ministry an active member is in, by name."""
        return cast(list[str], self._json("GET", "/api/members/ministries")["ministries"])

    def overview(self) -> Json:
        return cast(Json, self._json("GET", "/api/reports/overview"))

    def trends(self, period: Literal["week", "month"] = "month", ministry: str = "") -> Json:
        """Attendance per period; with a ministry, of its people only."""
        params = {"period": period, **({"ministry": ministry} if ministry else {})}
        return cast(Json, self._json("GET", "/api/reports/trends", params=params))

    def member_history(self, member_id: str) -> MemberHistory:
        return cast(MemberHistory, self._json("GET", f"/api/reports/members/{member_id}"))

    def export(
        self,
        meeting_id: str,
        *,
        which: Literal["attendance", "absent"] = "attendance",
        fmt: Literal["csv", "xlsx"] = "csv",
    ) -> tuple[str, bytes]:
        """The export's suggested file name and bytes, made by the backend."""
        response = self._send(
            "GET",
            f"/api/reports/meetings/{meeting_id}/export",
            params={"list": which, "format": fmt},
        )
        disposition = response.headers.get("content-disposition", "")
        name = disposition.split("filename=")[-1].strip('"; ') if "filename=" in disposition else ""
        return name or f"attendance.{fmt}", response.content

    # -- badges --------------------------------------------------------------------------

    def badges(self, member_id: str) -> list[Badge]:
        return cast(list[Badge], self._json("GET", f"/api/members/{member_id}/badges"))

    def issue_badge(self, member_id: str) -> Badge:
        """Issue (or reissue: the previous badge stops working) a member's badge."""
        return cast(Badge, self._json("POST", f"/api/members/{member_id}/badges"))

    def revoke_badge(self, member_id: str, badge_id: str) -> Badge:
        path = f"/api/members/{member_id}/badges/{badge_id}/revoke"
        return cast(Badge, self._json("POST", path))

    def badge_cards(self, members: list[Member]) -> list[BadgeCard]:
        """The working badge of each member, to print; members without one are left out."""
        return self.badge_sheet(members)[0]

    def badge_sheet(
        self, members: list[Member], *, issue_missing: bool = False
    ) -> tuple[list[BadgeCard], list[Member], list[Member]]:
        """The cards to print, the members left out for having no working badge, and
        (with `issue_missing`) the members just issued one, who are printed too."""
        cards, missing, issued = [], [], []
        for member in members:
            token = next((b["token"] for b in self.badges(member["id"]) if b["token"]), None)
            if token is None and issue_missing:
                token = self.issue_badge(member["id"])["token"]
                issued.append(member)
            if token:
                cards.append(
                    BadgeCard(
                        full_name=member["full_name"],
                        ministry=member["ministry"],
                        member_code=member["member_code"],
                        token=token,
                    )
                )
            else:
                missing.append(member)
        return cards, missing, issued

    # -- display links -------------------------------------------------------------------

    def make_display_link(self, meeting_id: str) -> DisplayLinkMade:
        return cast(DisplayLinkMade, self._json("POST", f"/api/meetings/{meeting_id}/display-link"))

    def display_links(self, meeting_id: str) -> list[DisplayLink]:
        params = {"meeting_id": meeting_id}
        return cast(list[DisplayLink], self._json("GET", "/api/display-links", params=params))

    def revoke_display_link(self, link_id: str) -> None:
        self._send("DELETE", f"/api/display-links/{link_id}")

    # -- kiosks --------------------------------------------------------------------------

    def kiosks(self, *, include_revoked: bool = False) -> list[Kiosk]:
        params = {"include_revoked": "true"} if include_revoked else {}
        body = self._json("GET", "/api/kiosks", params=params)
        return cast(list[Kiosk], body["data"] if isinstance(body, dict) else body)

    def pairing_code(self, name: str) -> Json:
        return cast(Json, self._json("POST", "/api/kiosks/pairing-codes", json={"name": name}))

    def rename_kiosk(self, kiosk_id: str, name: str) -> Kiosk:
        return cast(Kiosk, self._json("PATCH", f"/api/kiosks/{kiosk_id}", json={"name": name}))

    def revoke_kiosk(self, kiosk_id: str) -> Kiosk:
        return cast(Kiosk, self._json("POST", f"/api/kiosks/{kiosk_id}/revoke"))

    # -- admins (super admin) ------------------------------------------------------------

    def admins(self) -> list[AdminAccount]:
        body = self._json("GET", "/api/admins")
        return cast(list[AdminAccount], body["data"] if isinstance(body, dict) else body)

    def invite_admin(self, email: str, full_name: str = "", role: str = "admin") -> Invitation:
        """The new admin, and how their set-password link went (`Invitation`)."""
        payload = {"email": email, "full_name": full_name, "role": role}
        return cast(Invitation, self._json("POST", "/api/admins", json=payload))

    def set_admin_active(self, admin_id: str, active: bool) -> AdminAccount:
        body = self._json("PATCH", f"/api/admins/{admin_id}", json={"is_active": active})
        return cast(AdminAccount, body)

    def reset_admin_password(self, admin_id: str) -> PasswordLinkSent:
        body = self._json("POST", f"/api/admins/{admin_id}/password-link")
        return cast(PasswordLinkSent, body)


def _parse_sse(lines: Iterator[str]) -> Iterator[LiveEvent]:
    """Server-sent events from text lines (`event:` and `data:` fields; comments skipped)."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield LiveEvent(event=event, data=json.loads("\n".join(data)))
                if event == "session.ended":
                    raise SessionEndedError("Your sign-in has ended. Sign in again.")
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
