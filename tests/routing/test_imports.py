"""Every routing module imports on its own, and none pulls in the app, aiohttp, SQL or Redis.

The exceptions are ``routing.redis_backend`` and the wire it sends on, ``routing.redis_wire``: the only modules
allowed to import ``redis``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import routing

MODULES = sorted(
    f"routing.{path.stem}" for path in Path(routing.__file__).parent.glob("*.py") if path.stem != "__init__"
)
FORBIDDEN = ("contact_center", "aiohttp", "sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite", "redis")
ALLOWED = {"routing.redis_backend": ("redis",), "routing.redis_wire": ("redis",)}

PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
forbidden = {forbidden!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(",".join(loaded))
"""


def forbidden_for(module: str) -> tuple[str, ...]:
    allowed = ALLOWED.get(module, ())
    return tuple(name for name in FORBIDDEN if name not in allowed)


def test_each_module_imports_alone_without_forbidden_packages() -> None:
    # One interpreter per module catches circular imports that a shared, warmed-up sys.modules would hide.
    for module in ["routing", *MODULES]:
        result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
            [sys.executable, "-c", PROBE.format(forbidden=forbidden_for(module)), module],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"
