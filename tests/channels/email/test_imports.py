"""Every module of the email channel imports on its own, each in a fresh interpreter (no circular imports)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import contact_center.channels.email as package

MODULES = sorted(
    f"contact_center.channels.email.{path.stem}"
    for path in Path(package.__file__).parent.glob("*.py")
    if path.stem != "__init__"
)


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_alone(module: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
