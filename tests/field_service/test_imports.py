"""Every field-service module imports on its own, and none pulls in the app, aiohttp, SQL or Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import field_service

PURE = sorted(
    f"field_service.{path.stem}"
    for path in Path(field_service.__file__).parent.glob("*.py")
    if path.stem not in {"__init__", "models", "ledger"}
)
FORBIDDEN = ("contact_center", "aiohttp", "sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite", "redis")

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
forbidden = {forbidden!r}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in forbidden)))
"""


def test_each_pure_module_imports_alone_without_forbidden_packages() -> None:
    # One interpreter per module catches circular imports that a shared, warmed-up sys.modules would hide.
    for module in ["field_service", *PURE]:
        result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
            [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN), module],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"
