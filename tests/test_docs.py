"""Every code example in docs/ is executed (the user guide; README commands are checked by hand
in a clean clone, see the closing notes).

``python`` blocks of a page run in order in one namespace; ``console`` blocks run their
``$ `` lines as one bash script (``set -e``; background jobs are killed at the end). Each page
runs in its own scratch directory. ``bash`` blocks are set-up instructions (virtual
environments, installs) and are not executed here; CI runs them through .ci/run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))
BLOCK = re.compile(r"^```(python|console)[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(page.read_text())]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RECFORGE_QUIET"] = "1"
    env["RECFORGE_SHARED_DATASETS"] = str(REPO.parent / "shared" / "datasets")
    return env


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_doc_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no executable examples")
    needs_shared = "shared/datasets" in page.read_text() or "RECFORGE_SHARED_DATASETS" in page.read_text()
    if needs_shared and not (REPO.parent / "shared" / "datasets").is_dir():
        pytest.skip("the page uses ../shared/datasets, which is missing here")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared").symlink_to(REPO.parent / "shared") if (REPO.parent / "shared").is_dir() else None
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, (kind, code) in enumerate(blocks):
        if kind == "python":
            exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)  # noqa: S102 - our own docs
        else:
            lines = [ln[2:] for ln in code.splitlines() if ln.startswith("$ ")]
            script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + "\n".join(lines) + "\n"
            out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=_env(),
                                 capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, (
                f"{page.name} console block {i} failed ({out.returncode}):\n{script}\n"
                f"stdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"
            )
