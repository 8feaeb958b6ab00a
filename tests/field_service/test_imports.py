"""Every field-service module imports on its own without the app, aiohttp or Redis; the pure ones without SQL.

The adapters (tables, the stock ledger, the store, the visits read for the desktop and portal, the CLI that opens
the store, and the maintenance, purchasing and transfer services) are the only modules that touch SQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import field_service

MODULES = sorted(
    f"field_service.{path.stem}" for path in Path(field_service.__file__).parent.glob("*.py") if path.stem != "__init__"
)
ADAPTERS = {
    "field_service.models",
    "field_service.ledger",
    "field_service.store",
    "field_service.visits",
    "field_service.worklog",
    "field_service.history",
    "field_service.cli",
    "field_service.operations",
    "field_service.maintenance_store",
    "field_service.maintenance_cli",
    "field_service.purchasing",
    "field_service.transfers",
}
FORBIDDEN = ("contact_center", "aiohttp", "redis")
SQL = ("sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite")

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
forbidden = {forbidden!r}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in forbidden)))
"""


def test_each_module_imports_alone_without_forbidden_packages() -> None:
    # One interpreter per module catches circular imports that a shared, warmed-up sys.modules would hide; they
    # run side by side because each pays for importing numpy and PyVRP.
    probes = {}
    for module in ["field_service", *MODULES]:
        forbidden = FORBIDDEN if module in ADAPTERS else FORBIDDEN + SQL
        probes[module] = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
            [sys.executable, "-c", PROBE.format(forbidden=forbidden), module],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for module, probe in probes.items():
        out, err = probe.communicate(timeout=60)
        assert probe.returncode == 0, err
        assert out.strip() == "", f"{module} loads {out.strip()}"
