"""Gallery sync with per-kiosk scoping beside the code of another revision, side by side.

One throwaway database with `--members` enrolled members and an active meeting opened to
everyone (so both codes send every member), two uvicorn backends: `--this` (default
HEAD, commit your changes first) and `--against`, each a git revision exported to a
temporary folder, so both start alike (a backend run from the working folder measured
quiet syncs 1.6x slower than the same commit exported). Each pulls, alternately
round by round, a full snapshot and a quiet delta (nothing changed: what a kiosk asks
every few seconds), and the medians are printed with their ratio (this / against). The
side that goes first swaps every round.

Beside each median wall time it prints the median CPU the backend process spent per
pull: a full garbage collection of the backend's heap costs about as much as a quiet
sync and lands in one pull or another as allocations happen to add up, so the wall
ratio of a few rounds swings with it; the CPU shows the work itself. `--listed` makes
the meeting list every member by id instead of being open to everyone.

    .venv/bin/python bench/bench_gallery_scope.py [--against main] [--members 5000]
        [--rounds 5] [--listed]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from bench_backend import ROOT, add_service_arguments, seeded_environment
from bench_checkin_upload import pair_kiosk
from bench_gallery_sync import backend, open_meeting, pull, seed


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--this", default="HEAD", help="git revision measured")
    parser.add_argument("--against", default="main", help="git revision to compare with")
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--listed", action="store_true", help="the meeting lists every member by id"
    )
    add_service_arguments(parser)
    args = parser.parse_args()
    args.enrolled, args.members = args.members, 0  # bench_backend seeds plain members
    return args


def export(revision: str, folder: Path) -> Path:
    """The tree of `revision`, written under `folder`."""
    archive = folder / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision], cwd=ROOT, stdout=out, check=True)
    tree = folder / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time `pid` has used so far, all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = _parse()
    with tempfile.TemporaryDirectory() as folder, seeded_environment(args) as (env, email):
        this, against = Path(folder) / "this", Path(folder) / "against"
        this.mkdir(), against.mkdir()
        new_tree, old_tree = export(args.this, this), export(args.against, against)
        _, _, ids = seed(env, args.enrolled)
        with (
            backend(env, new_tree) as (new_url, new_pid),
            backend(env, old_tree) as (
                old_url,
                old_pid,
            ),
        ):
            open_meeting(new_url, email, ids if args.listed else None)
            kiosks = {new_url: pair_kiosk(new_url, email), old_url: pair_kiosk(old_url, email)}
            pids = {new_url: new_pid, old_url: old_pid}
            times: dict[str, dict[str, list[float]]] = {
                url: {"snapshot": [], "quiet delta": []} for url in kiosks
            }
            cpu: dict[str, dict[str, list[float]]] = {
                url: {"snapshot": [], "quiet delta": []} for url in kiosks
            }
            counts, resume = {}, {}
            for url, kiosk in kiosks.items():  # warm-up, and the answer to go on from
                _, body, _ = pull(url, kiosk)
                answer = json.loads(body)
                counts[url] = len(answer["templates"])
                resume[url] = {"since": answer["version"], "scope": answer["scope"]}
            for round_ in range(args.rounds):
                # Who goes first swaps every round: a pull's leftovers (garbage, caches)
                # weigh on the next one, and neither side should always follow the other.
                for url in list(kiosks)[:: 1 if round_ % 2 else -1]:
                    for kind, params in (("quiet delta", resume[url]), ("snapshot", {})):
                        used = cpu_seconds(pids[url])
                        times[url][kind].append(pull(url, kiosks[url], **params)[2])
                        cpu[url][kind].append(cpu_seconds(pids[url]) - used)
    meeting = "listing every member" if args.listed else "open to everyone"
    print(
        f"{args.enrolled} enrolled members, one meeting {meeting}; templates sent: "
        f"{args.this} {counts[new_url]}, {args.against} {counts[old_url]}; "
        f"{args.rounds} rounds, alternating"
    )
    for kind in ("snapshot", "quiet delta"):
        new, old = (float(np.median(times[u][kind])) for u in (new_url, old_url))
        new_cpu, old_cpu = (float(np.median(cpu[u][kind])) for u in (new_url, old_url))
        print(
            f"{kind}: {args.this} {new * 1000:.0f} ms, {args.against} {old * 1000:.0f} ms "
            f"(median), ratio {new / old:.2f}x; backend CPU per pull {new_cpu * 1000:.0f} ms "
            f"vs {old_cpu * 1000:.0f} ms, ratio {new_cpu / max(old_cpu, 1e-3):.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
