from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "ray", "mlflow", "transformers", "peft", "optuna", "datasets")


def test_import_and_help_stay_light() -> None:
    code = (
        "import sys, mixopt, mixopt.data, mixopt.cli\n"
        "from mixopt.cli import build_parser\n"
        "build_parser().format_help()\n"
        "try:\n    mixopt.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "LOADED:"


def test_console_script_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mixopt", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "validate" in out and "export" in out
