"""Registry lookups and the CLI's light start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recforge import registry
from recforge.errors import ConfigError


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as exc:
        registry.get("no-such-model")
    assert "most-popular" in str(exc.value)


def test_aliases_and_case() -> None:
    assert registry.get("POP") is registry.get("most-popular")


def test_import_and_help_do_not_import_torch_or_ray() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import recforge\n"
        "from recforge.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('torch', 'ray', 'optuna', 'fastapi', 'faiss', 'sklearn') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at start-up: {out.stdout}"


def test_cli_error_is_one_line_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-m", "recforge.cli", "evaluate", "--data", "no-such-data", "--split",
         "leave-last:1", "--model", "most-popular"],
        capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "no-such-data" in out.stderr and "Traceback" not in out.stderr
