"""The email package stays a library: every module imports on its own, without the web app or the case store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import email_response

MODULES = sorted(
    f"email_response.{path.stem}"
    for path in Path(email_response.__file__).parent.glob("*.py")
    if path.stem != "__init__"
)
FORBIDDEN = ("aiohttp", "sqlalchemy", "sqlmodel", "redis", "asyncpg", "aiosqlite", "contact_center")

# One fresh interpreter imports each module first, alone (a circular import fails there), then reports what the
# whole package dragged in.
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "email_response" or m.startswith("email_response.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_modules_import_alone_without_forbidden_packages() -> None:
    assert len(MODULES) >= 9
    done = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, *MODULES], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
