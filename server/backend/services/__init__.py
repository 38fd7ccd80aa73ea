"""The backend's use cases, and who owns a transaction.

Services hold what a request does beyond reading or writing one resource: the check-in
upload and its re-scoring, phone check-ins, review decisions, accounts, badges, exports,
reports, live events; and the collaborators that talk to the outside (email, the
face-service, throttling).

Who commits (one rule, so a change and its audit entry are always atomic):

- `crud/` never commits: each function adds or changes rows on the session it is given.
- A route that only calls `crud/` commits once, after its last write
  (`api/routes/members.py`, `kiosks.py`, `templates.py`, ...).
- A service that carries a whole use case owns its transaction and commits it itself
  (`checkin_upload`, `phone_checkin`, `review`, `accounts`, `absentees`, `evidence`);
  a route that calls one does not commit again.
- A session nobody committed is rolled back when the request ends (`api/deps.py`), so
  a refusal raised midway leaves nothing behind.
"""
