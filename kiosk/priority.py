"""Inference threads give way to capture and painting, so the preview keeps a core.

On the kiosk's 2 cores the recognition thread keeps one core busy and a speculative
embedding can take the other for ~200 ms; the capture thread and the window's painting
need only a few milliseconds per frame, but need them on time (measured: frames were
captured at 29-30 a second and painted at 15-21, the window's thread waiting, not
working). Linux gives each thread its own nice value, so the inference threads lower
theirs and the scheduler lets capture and painting run first whenever they are ready.
Elsewhere this does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

# Nice +5: when both want the same core, a thread at 0 gets about three times the
# share (CFS weights 1024 against 335); inference still runs whenever the core is free.
INFERENCE_NICE = 5


def give_way(nice: int = INFERENCE_NICE) -> bool:
    """Lower the calling thread's CPU priority by ``nice``; False where not possible."""
    if not sys.platform.startswith("linux"):
        return False
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + nice))
    except OSError as exc:
        log.info("inference thread keeps its priority: %s", exc)
        return False
    return True
