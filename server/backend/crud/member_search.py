"""Member search: one page of members matching a free-text query and filters, by name.

Each kind of search (which filters it has, the dialect, whether it asks about faces) is
one statement with bound parameters, built on first use and reused: building and keying
a fresh statement per request cost a rare-term search more CPU than PostgreSQL spends
answering it. The page is chosen first and only its rows are asked whether a face is
enrolled, so that question is at most a page of index probes, however many members
match or have faces (asked of every row, PostgreSQL hashed every template of the
recogniser for a first page: 47 ms at 50,000 members, where the page-first form takes
under 4). On PostgreSQL a text search's page is chosen in the name index, which holds
what the search tests (migration 0016), and only then are its rows read: at 50,000
members "mensah" passed 3,125 members before its first page, each read from the table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from server.backend import member_codes
from server.backend.models import FaceTemplate, Member
from server.backend.tasks.migrate import SEARCH_TEXT

# Beyond this many matches a search says "1,000+" instead of counting them all: an exact
# total walks every match (0.4 s for a common surname at 50,000 members), a capped one at
# most COUNT_CAP + 1 of them.
COUNT_CAP = 1000
# Joins the fields in `search_text` (migration 0011), so no term matches across two.
FIELD_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class MemberPage:
    """One page of a search. `count` is exact unless `count_capped`: then at least that
    many members match (the count stopped there). `has_more`: a page follows this one."""

    members: list[dict[str, Any]]
    count: int
    count_capped: bool
    has_more: bool


@dataclass(frozen=True)
class SearchShape:
    """What a search filters on, which decides its statement (not the values)."""

    text: bool = False
    ministry: bool = False
    status: bool = False
    postgresql: bool = False
    faces: bool = False


def search(
    *,
    session: Session,
    q: str | None = None,
    ministry: str | None = None,
    status: str | None = None,
    skip: int = 0,
    limit: int = 100,
    face_model_id: str | None = None,
) -> MemberPage:
    """Members matching a free-text query (name, email, phone or member code) and filters,
    by name, as plain rows: a list is read, never changed, and ORM objects cost twice the
    time. With ``face_model_id`` each row also says whether the member has a template of
    that recogniser (``face_enrolled``), in the same query."""
    shape = SearchShape(
        text=bool(q),
        ministry=bool(ministry),
        status=bool(status),
        postgresql=session.get_bind().dialect.name == "postgresql",
        faces=face_model_id is not None,
    )
    values = parameters(q=q, ministry=ministry, status=status)
    # One row past the page says whether another follows, without counting anything.
    page = {**values, "skip": skip, "limit": limit + 1, "model_id": face_model_id}
    members = [dict(row) for row in session.execute(page_statement(shape), page).mappings()]
    has_more = len(members) > limit
    members = members[:limit]
    if not has_more and (members or not skip):
        return MemberPage(members, skip + len(members), count_capped=False, has_more=False)
    # Count up to the cap (never less than this page's end, so deep pages stay consistent).
    cap = max(COUNT_CAP, skip + limit + 1)
    counted = session.scalar(count_statement(shape), {**values, "cap": cap + 1}) or 0
    return MemberPage(members, min(counted, cap), count_capped=counted > cap, has_more=has_more)


def parameters(
    *, q: str | None = None, ministry: str | None = None, status: str | None = None
) -> dict[str, str]:
    """The bound values of a search's filters (see `matching`)."""
    values: dict[str, str] = {}
    if q:
        values["pattern"] = _like(q.strip().replace(FIELD_SEPARATOR, ""))
        values["code"] = member_codes.normalise(q)
    if ministry:
        values["ministry"] = ministry.strip().lower()
    if status:
        values["status"] = status
    return values


@functools.cache  # one statement per shape: at most 32, each built once
def page_statement(shape: SearchShape) -> Select[Any]:
    """One page of matches in name order (bound: `skip`, `limit`, and with faces
    `model_id`), each row asked about its faces only once the page is chosen."""
    page = (
        matching(shape)
        .order_by(Member.full_name, Member.id)
        .offset(bindparam("skip", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )
    rows: FromClause  # the page's member rows
    source: FromClause
    if shape.postgresql and shape.text and not (shape.ministry or shape.status):
        keys = page.with_only_columns(Member.id, Member.full_name).subquery("page")
        rows = _rows_by_id(keys)
        source = keys.join(rows, true())
        order = (keys.c.full_name, keys.c.id)
    else:  # every row walked is on the page, or the index lacks a filter, or SQLite
        rows = source = page.with_only_columns(*Member.__table__.c).subquery("page")
        order = (rows.c.full_name, rows.c.id)
    columns: list[Any] = list(rows.c)
    if shape.faces:
        templates = select(FaceTemplate.id).where(
            FaceTemplate.member_id == rows.c.id,
            FaceTemplate.model_id == bindparam("model_id", type_=String),
        )
        columns.append(templates.exists().label("face_enrolled"))
    return select(*columns).select_from(source).order_by(*order)


def _rows_by_id(keys: FromClause) -> FromClause:
    """The member rows of a page chosen as `keys` (id and name): chosen on the columns the
    name index holds (migration 0016), a text search's page passes over the members it
    skips inside the index, and only its own rows are read, one lookup by id each. LIMIT 1
    keeps them lookups: as a plain join, PostgreSQL hashed the page against a scan of
    every member when there were under some thousands of them."""
    members = Member.__table__
    one = literal_column("1", Integer)
    return select(members).where(members.c.id == keys.c.id).limit(one).lateral("member")


@functools.cache
def count_statement(shape: SearchShape) -> Select[Any]:
    """How many members match, counting no further than the bound `cap`."""
    matches = matching(shape).with_only_columns(Member.id).limit(bindparam("cap", type_=Integer))
    return select(func.count()).select_from(matches.subquery())


def matching(shape: SearchShape) -> Select[Any]:
    """The members a search of this shape matches, its values bound by name (see
    `parameters`). On PostgreSQL the term is matched against `search_text`, the
    lower-cased name, email and phone that migration 0011 generates and indexes with
    trigrams; elsewhere each field is compared case-insensitively (a plain scan)."""
    query = select(Member)
    if shape.text:
        pattern = bindparam("pattern", type_=String)
        text_match: ColumnElement[bool]
        if shape.postgresql:
            searched: ColumnElement[str] = literal_column(f"members.{SEARCH_TEXT}")
            text_match = searched.like(func.lower(pattern), escape="\\")
        else:
            fields = (Member.full_name, Member.email, Member.phone)
            text_match = or_(*(field.ilike(pattern, escape="\\") for field in fields))
        query = query.where(or_(text_match, Member.member_code == bindparam("code")))
    if shape.ministry:
        query = query.where(func.lower(Member.ministry) == bindparam("ministry", type_=String))
    if shape.status:
        query = query.where(Member.status == bindparam("status", type_=String))
    return query


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (wildcards in it are escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
