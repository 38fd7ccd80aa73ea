"""The set-up steps the docs give are the ones that work: `scripts/bootstrap.sh` only
defines functions (run.sh and test.sh source it), so a document telling a person to run
it would leave them with no virtualenv and no word of why."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "packaging" / "README.md"
# A command line that runs the script itself (`./scripts/bootstrap.sh`, `bash scripts/...`).
RUNS_BOOTSTRAP = re.compile(r"^\s*(?:bash\s+|sh\s+)?(?:\./)?scripts/bootstrap\.sh\b", re.M)


def build_steps() -> list[str]:
    text = README.read_text()
    block = text.split("## Build (Linux)", 1)[1].split("```", 2)[1]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_no_document_says_to_run_bootstrap_sh_on_its_own() -> None:
    documents = [p for p in ROOT.rglob("*.md") if not {".venv", ".tools", "dist"} & set(p.parts)]
    assert README in documents
    wrong = [str(p.relative_to(ROOT)) for p in documents if RUNS_BOOTSTRAP.search(p.read_text())]
    assert wrong == []


def test_the_packaging_readmes_first_step_makes_the_venv_with_pyinstaller() -> None:
    first = build_steps()[0]
    assert "sync_venv all" in first, first
    # As written, from the repository's root: it ends with the locked virtualenv in place
    # (nothing changes when test.sh already synced it).
    done = subprocess.run(
        ["bash", "-c", first], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (ROOT / ".venv" / "bin" / "pyinstaller").exists()
