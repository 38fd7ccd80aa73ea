"""`sonta supervise`: runs supervisord.conf as the container's main process.

What it adds to plain `supervisord -c supervisord.conf`:
- supervisord's pid file lives in the data directory (SONTA_DATA_DIR), so two servers
  with their own data directories never share one;
- when a program gives up (FATAL: it failed to start several times in a row; or it
  exited on a problem retrying cannot fix, such as a taken port), the
  `give-up-listener` event listener has everything stopped and this command exits 1,
  so a container restart policy (or the operator) starts the server again, instead of
  a container that runs on, unhealthy, forever;
- run as root (development), it says so once instead of supervisord's CRIT line; the
  image runs everything as an unprivileged user;
- as process 1 of a container, it reaps the orphans every process 1 inherits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

# The pid of `sonta supervise`, handed down to the event listener so it can say "gave up".
SUPERVISE_PID = "SONTA_SUPERVISE_PID"
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def say(message: str) -> None:
    """One line on stdout, where the programs' prefixed lines go too."""
    print(f"[supervise] {message}", flush=True)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "supervise",
        help="run the backend and the face-service under supervisord (as the container does)",
    )
    parser.add_argument(
        "--conf",
        type=Path,
        default=Path("supervisord.conf"),
        help="supervisord configuration (default: ./supervisord.conf)",
    )
    parser.set_defaults(handler=run_supervise)
    actions = parser.add_subparsers(dest="supervise_command", metavar="ACTION")
    listener = actions.add_parser(
        "give-up-listener", help="supervisord event listener (started by supervisord.conf)"
    )
    listener.set_defaults(handler=run_give_up_listener)


def data_directory() -> Path:
    """SONTA_DATA_DIR or the backend's default, created owner-only."""
    configured = os.environ.get("SONTA_DATA_DIR", "").strip()
    folder = Path(configured or "~/.local/share/sonta").expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def run_supervise(args: argparse.Namespace) -> int:
    if not args.conf.is_file():
        print(
            f"{args.conf} not found: run this where supervisord.conf is, or pass --conf.",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, "SONTA_DATA_DIR": str(data_directory()), SUPERVISE_PID: str(os.getpid())}
    beside = Path(sys.executable).with_name("supervisord")  # this environment's own
    command = [str(beside) if beside.is_file() else "supervisord", "-c", str(args.conf)]
    if os.geteuid() == 0:
        say("Running as root (development); the container image runs as the user sonta.")
        command += ["--user", "root"]  # the same user: supervisord's CRIT line says nothing new
    gave_up: list[bool] = []
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            gave_up.append(True)
            signum = signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signum)

    for signum in (*FORWARDED, signal.SIGUSR1):
        signal.signal(signum, forward)
    code = _reap_until(child.pid)
    if gave_up:
        say("Stopped because a program gave up (see above); exit code 1 so it is restarted.")
        return 1
    return code


def _reap_until(pid: int) -> int:
    """Wait for ``pid``, reaping any other child on the way (process 1 inherits orphans)."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if reaped == pid:
            return os.waitstatus_to_exitcode(status)


def run_give_up_listener(_args: argparse.Namespace) -> int:
    """End the whole supervision when a program gives up.

    Giving up is either supervisord's FATAL (it failed to start ``startretries`` times
    in a row) or an exit with a code the program's ``exitcodes`` call expected, which
    supervisord.conf uses for "retrying cannot fix this" (a setting, a taken port).
    """
    from supervisor import childutils  # noqa: PLC0415

    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        event = headers.get("eventname")
        fields = childutils.get_headers(payload)
        name = fields.get("processname", "a program")
        if event == "PROCESS_STATE_FATAL":
            _log(sys.stderr, f"{name} could not be started after several tries; stopping.")
            _end_supervision()
        elif event == "PROCESS_STATE_EXITED" and fields.get("expected") == "1":
            _log(sys.stderr, f"{name} stopped on a problem retrying cannot fix; stopping.")
            _end_supervision()
        childutils.listener.ok(sys.stdout)


def _log(stream: TextIO, message: str) -> None:
    stream.write(f"[supervise] {message}\n")
    stream.flush()


def _end_supervision() -> None:
    """Tell `sonta supervise` (exit 1 after the stop), or else stop supervisord itself."""
    wrapper = os.environ.get(SUPERVISE_PID, "").strip()
    if wrapper.isdigit():
        os.kill(int(wrapper), signal.SIGUSR1)
    else:
        os.kill(os.getppid(), signal.SIGTERM)
