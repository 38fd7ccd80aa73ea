"""Keeps the objects start-up built out of the garbage collector's full passes.

A started backend holds some 250,000 container objects that live as long as the process
(modules, routes, schemas, mappers). Python's full collection walks all of them, and a
request that reads thousands of rows (a kiosk's gallery sync at 5,000 members) set one
off every few requests: about as much CPU as the sync itself, landing in whichever
request tipped it, so sync times swung twofold from one run to the next. Frozen after
start-up (`gc.freeze`), they are skipped; full passes walk only what requests made.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Freeze what exists now for the duration of the block, then let it go again.

    No collection first: it would cost every start (and every test app) a full pass,
    and what little start-up garbage there is is freed once the block ends.
    Unfreezing at the end lets an app built and shut down in a longer-lived process
    (tests) be collected like anything else.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
