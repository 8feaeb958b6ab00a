"""The knowledge base never imports the web app or `contact_center`, and its decisions import no SQL at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import knowledge_base

PACKAGE = Path(knowledge_base.__file__).parent
MODULES = sorted(f"knowledge_base.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__")
# The pure decisions: tokens, queries, snippets, spelling, ranking, Markdown rendering.
PURE = ["knowledge_base.text", "knowledge_base.query", "knowledge_base.snippets", "knowledge_base.spelling",
        "knowledge_base.ranking", "knowledge_base.rendering"]  # fmt: skip

# One fresh interpreter imports each module first, alone (a circular import fails there); the tables are dropped
# from the metadata between modules, since importing `models` again would define them twice.
PROBE = """
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "knowledge_base" or m.startswith("knowledge_base.")]:
        del sys.modules[loaded]
    if "sqlmodel" in sys.modules:
        sys.modules["sqlmodel"].SQLModel.metadata.clear()
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _loaded(modules: list[str]) -> set[str]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_every_module_imports_alone_and_never_the_app() -> None:
    assert len(MODULES) >= 12
    loaded = _loaded(MODULES)
    assert loaded.isdisjoint({"aiohttp", "contact_center", "redis"}), loaded


def test_the_decisions_are_free_of_sql() -> None:
    loaded = _loaded(PURE)
    assert loaded.isdisjoint({"aiohttp", "sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite", "contact_center"}), loaded
