"""The admin client's calls for meetings, attendance, reports, badges, kiosks and admins.

A mixin of `kiosk.admin_client.AdminClient` (split to keep each module small); it only
relies on the client's `_json` and `_send`, which map errors to `AdminError`.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import httpx

from kiosk.admin_types import (
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
    Meeting,
    MeetingQr,
    MeetingReport,
    Member,
    MemberHistory,
    PasswordLinkSent,
)


class ResourcesMixin:
    def _json(self, method: str, path: str, **kw: Any) -> Any:
        raise NotImplementedError

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        raise NotImplementedError

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
