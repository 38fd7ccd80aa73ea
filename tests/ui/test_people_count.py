"""The People screen's count line: exact, or "N+" once the server's count stops at its cap."""

from __future__ import annotations

from kiosk.admin.api_types import Member, MemberPage
from ui.admin.people import count_text


def _page(count: int, *, shown: int, capped: bool, more: bool) -> MemberPage:
    member: Member = {
        "id": "0",
        "member_code": "ABC123",
        "full_name": "Ama Mensah",
        "ministry": "Choir",
        "email": None,
        "phone": None,
        "notes": "",
        "status": "active",
        "consent_given": False,
        "consent_changed_at": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    return {"data": [member] * shown, "count": count, "count_capped": capped, "has_more": more}


def test_a_narrow_search_shows_its_exact_count() -> None:
    assert count_text(_page(12, shown=12, capped=False, more=False)) == "12 people."


def test_a_broad_search_says_which_are_shown_and_that_the_count_is_a_floor() -> None:
    text = count_text(_page(1000, shown=100, capped=True, more=True))
    assert text == "Showing 1 to 100 of 1,000+ people; use Next or search to narrow it down."
    last = count_text(_page(1012, shown=12, capped=False, more=False), skip=1000)
    assert last == "Showing 1,001 to 1,012 of 1,012 people."
