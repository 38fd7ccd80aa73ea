"""The kiosk's HTTP client for the server's kiosk API (`/api/kiosks/pair`, `/api/kiosk/*`).

One method per endpoint; httpx errors and HTTP failures are mapped here, at the
boundary, to `SyncError` (try again later; `retry_after` from a 429/503 answer),
`DeviceRevokedError` (the server says this kiosk was revoked), `CredentialError`
(the credential is not accepted: pair again) or `PairingError`. The transport is
injected (`transport=`), so tests talk to a real backend over loopback or in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from kiosk.errors import (
    CredentialError,
    DeviceRevokedError,
    PairingError,
    SyncError,
    WireFormatError,
)
from kiosk.inference import embedding_dimension
from kiosk.protocol.wire import EmbeddingFormat, decode
from kiosk.storage.local_gallery import (
    BadgeKey,
    GalleryUpdate,
    MeetingRecord,
    MemberRecord,
    TemplateRecord,
)

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


# What a production server's refusal of pairing over plain http means at the kiosk.
HTTP_REFUSED = (
    "The server refused to pair over plain http ({url}): it is a production server, and "
    "over http the code, this kiosk's credential and the gallery could be read on the "
    "way; that code is now void. Ask an admin for a new code and pair with the server's "
    "https address (`sonta kiosk pair https://... CODE`). Only for a kiosk on the venue's "
    "own network may the server's admin allow http, with ALLOW_HTTP_PAIRING=true."
)


@dataclass(frozen=True)
class Paired:
    kiosk_id: str
    name: str
    credential: str
    model_id: str
    device_secret: str | None = None  # renews the credential; None from older servers


@dataclass(frozen=True)
class Renewed:
    credential: str
    device_secret: str


@dataclass(frozen=True)
class HeartbeatReport:
    app_version: str
    model_id: str
    gallery_version: int
    queue_depth: int
    camera_state: str
    device_time: datetime


@dataclass(frozen=True)
class HeartbeatAnswer:
    server_time: datetime
    clock_drift_s: float
    clock_drift_flag: bool
    model_id: str
    model_matches: bool
    gallery_version: int
    credential: str | None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _detail(response: httpx.Response) -> str:
    """The server's own sentence; a web page (another server, a proxy) is named, not dumped."""
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "").split(";")[0] or "an unknown kind"
        return f"a {kind} page, not a Sonta Attendance answer"
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail else f"an answer without a reason ({response.text[:80]})"


class SyncClient:
    """Calls the server at `base_url` (e.g. `https://attendance.example.org`).

    `credential` returns the current device credential (read from the keyring on each
    call, so a renewed one is used at once); pairing needs none.
    """

    def __init__(
        self,
        base_url: str,
        *,
        credential: Callable[[], str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credential = credential
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=timeout, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self._credential is not None and authenticated:
            headers["Authorization"] = f"Bearer {self._credential()}"
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise SyncError(
                f"The server at {self.base_url} cannot be reached ({type(exc).__name__}); "
                "check the network. Check-ins are kept and sent when it is back."
            ) from exc
        self._raise_for(response)
        return response

    def _raise_for(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _detail(response)
        if status in (401, 403):
            if "revoked" in detail.lower():
                raise DeviceRevokedError(
                    f"An admin revoked this kiosk ({detail}). Its local gallery was wiped; "
                    "pair it again with `sonta kiosk pair URL CODE` to use it."
                )
            raise CredentialError(
                f"The server does not accept this kiosk's credential ({detail}). Pair the kiosk "
                "again: `sonta kiosk unpair`, then `sonta kiosk pair URL CODE`."
            )
        if status in RETRY_STATUSES:
            raise SyncError(
                f"The server is busy or unavailable (HTTP {status}: {detail}); the kiosk "
                "tries again shortly.",
                retry_after=_retry_after(response),
                status=status,
            )
        raise SyncError(
            f"The server refused a sync request (HTTP {status}: {detail}).", status=status
        )

    # --- endpoints ------------------------------------------------------------------

    def pair(self, code: str) -> Paired:
        """Exchange a one-time pairing code for a device credential."""
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise PairingError(
                f"The server address {self.base_url!r} needs http:// or https:// in front, "
                "e.g. https://attendance.example.org or http://192.168.1.20:3000."
            )
        not_sonta = (
            f"{self.base_url} does not look like a Sonta Attendance server. Check the address: "
            "it is the one the admin screens use (its API docs are at /api/docs)."
        )
        try:
            response = self._request("POST", "/api/kiosks/pair", json={"code": code.strip()})
            body = response.json()
        except (CredentialError, DeviceRevokedError) as exc:
            if urlsplit(self.base_url).scheme == "http" and "plain http" in str(exc):
                raise PairingError(HTTP_REFUSED.format(url=self.base_url)) from exc
            raise PairingError(
                "The pairing code was refused: it is wrong, already used or expired "
                "(codes last ten minutes). Ask an admin for a new code."
            ) from exc
        except SyncError as exc:
            if exc.status is None:  # never answered
                raise PairingError(
                    f"Pairing failed: the server at {self.base_url} cannot be reached "
                    f"({exc.__cause__.__class__.__name__}). Check the address and the network."
                ) from exc
            if "not a Sonta Attendance answer" in str(exc) or exc.status in (404, 405):
                raise PairingError(f"{not_sonta} (It answered HTTP {exc.status}.)") from exc
            raise PairingError(f"Pairing failed: {exc}") from exc
        except ValueError as exc:  # a 2xx that is not JSON
            raise PairingError(not_sonta) from exc
        return Paired(
            kiosk_id=str(body["kiosk"]["id"]),
            name=str(body["kiosk"]["name"]),
            credential=str(body["credential"]),
            model_id=str(body["model_id"]),
            device_secret=body.get("device_secret"),
        )

    def renew(self, kiosk_id: str, device_secret: str) -> Renewed:
        """A fresh credential and the next device secret (the one sent is spent)."""
        body = self._request(
            "POST",
            "/api/kiosk/credential",
            json={"kiosk_id": kiosk_id, "device_secret": device_secret},
            authenticated=False,
        ).json()
        return Renewed(str(body["credential"]), str(body["device_secret"]))

    def heartbeat(self, report: HeartbeatReport) -> HeartbeatAnswer:
        body = {
            "app_version": report.app_version[:40],
            "model_id": report.model_id,
            "gallery_version": report.gallery_version,
            "queue_depth": report.queue_depth,
            "camera_state": report.camera_state[:20],
            "device_time": report.device_time.isoformat(),
        }
        answer = self._request("POST", "/api/kiosk/heartbeat", json=body).json()
        return HeartbeatAnswer(
            server_time=datetime.fromisoformat(answer["server_time"]),
            clock_drift_s=float(answer["clock_drift_s"]),
            clock_drift_flag=bool(answer["clock_drift_flag"]),
            model_id=str(answer["model_id"]),
            model_matches=bool(answer["model_matches"]),
            gallery_version=int(answer["gallery_version"]),
            credential=answer.get("credential"),
        )

    def gallery(
        self,
        *,
        since: int,
        scope: str | None,
        members_digest: str | None = None,
        meetings_digest: str | None = None,
    ) -> GalleryUpdate:
        """The gallery delta since `since` (or a full snapshot), decoded."""
        params: dict[str, str | int] = {"since": since}
        for name, value in (
            ("scope", scope),
            ("members", members_digest),
            ("meetings", meetings_digest),
        ):
            if value:
                params[name] = value
        body = self._request("GET", "/api/kiosk/gallery", params=params).json()
        try:
            return parse_gallery(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise SyncError(
                f"The server's gallery answer could not be read ({exc}); the kiosk and server "
                "releases may not match."
            ) from exc

    def upload(self, items: Sequence[dict[str, Any]], sent_at: datetime) -> list[dict[str, Any]]:
        """Send a batch; the server answers each item (recorded, already, refused)."""
        body = {"items": list(items), "sent_at": sent_at.isoformat()}
        results: list[dict[str, Any]] = self._request(
            "POST", "/api/kiosk/checkins", json=body
        ).json()["results"]
        return results

    def put_evidence(self, key: str, jpeg: bytes) -> bool:
        """Attach a review-band crop; False when the server does not want it (404/409)."""
        try:
            self._request(
                "PUT",
                f"/api/kiosk/checkins/{key}/evidence",
                files={"image": ("evidence.jpg", jpeg, "image/jpeg")},
            )
        except SyncError as exc:
            if exc.status in (404, 409, 413, 422):
                log.warning("evidence for %s not kept by the server: %s", key, exc)
                return False
            raise
        return True

    def badge_keys(self) -> list[BadgeKey]:
        body = self._request("GET", "/api/kiosk/badge-keys").json()
        return [BadgeKey(k["kid"], k["algorithm"], k["public_key"]) for k in body["keys"]]


def parse_gallery(body: dict[str, Any]) -> GalleryUpdate:
    """A gallery sync answer into a `GalleryUpdate` (embeddings decoded)."""
    fmt: EmbeddingFormat = body.get("embedding_format", "q8")
    if fmt not in ("f32", "q8"):
        raise ValueError(f"unknown embedding format {fmt!r}")
    dimension = embedding_dimension(str(body["model_id"]))
    try:
        templates = [
            TemplateRecord(
                str(t["template_id"]), str(t["member_id"]), decode(t["embedding"], fmt, dimension)
            )
            for t in body["templates"]
        ]
    except WireFormatError as exc:
        raise ValueError(str(exc)) from exc
    members = body.get("members")
    meetings = body.get("meetings")
    return GalleryUpdate(
        version=int(body["version"]),
        model_id=str(body["model_id"]),
        full=bool(body["full"]),
        scope=str(body["scope"]),
        templates=templates,
        deleted_template_ids=[str(t) for t in body.get("deleted_template_ids", [])],
        deleted_member_ids=[str(m) for m in body.get("deleted_member_ids", [])],
        members=None
        if members is None
        else [MemberRecord(str(m["member_id"]), m["full_name"], m["ministry"]) for m in members],
        members_digest=body.get("members_digest"),
        meetings=None if meetings is None else [_meeting(m) for m in meetings],
        meetings_digest=body.get("meetings_digest"),
        revoked_badge_ids=[str(b) for b in body.get("revoked_badge_ids", [])],
    )


def _meeting(raw: dict[str, Any]) -> MeetingRecord:
    late = raw.get("late_after")
    return MeetingRecord(
        meeting_id=str(raw["meeting_id"]),
        title=str(raw["title"]),
        status=str(raw["status"]),
        starts_at=datetime.fromisoformat(raw["starts_at"]),
        ends_at=datetime.fromisoformat(raw["ends_at"]),
        late_after=datetime.fromisoformat(late) if late else None,
        expected_member_ids=tuple(str(m) for m in raw.get("expected_member_ids") or ()),
        liveness=str(raw.get("liveness") or "review_only"),
        # A server from before the field sends none: its lists are exact (empty: nobody).
        expects_everyone=raw.get("expects_everyone") is True,
    )
