"""The kiosk's Qt-free side, in three parts kept apart by import contracts (pyproject).

Shared with the server (it imports these, and they import nothing of the rest):
    inference/   the face engine: detect -> quality -> align -> embed, gallery, matching
    protocol/    the check-in record, wire encodings, signed tokens, badges, liveness

The kiosk runtime (what `sonta kiosk run` and the window start):
    capture/     frames in: camera, video and folder sources, the one-slot mailbox
    recognition/ the recognition thread: find, track, embed, decide
    storage/     the SQLite database: check-ins with their outbox rows, synced gallery
    syncing/     pairing, the sync worker and its HTTP client, the sync status
    device/      keyring secrets, lockdown PIN, preferences, the model pack
    app.py, headless.py, events.py, board.py, kiosk_command.py, commands.py, self_test.py

The admin app's client (only `ui.admin` imports it):
    admin/       the typed admin API client, sign-in, live stream, enrolment capture

`errors.py` draws the `KioskError` tree all of them raise.
"""
