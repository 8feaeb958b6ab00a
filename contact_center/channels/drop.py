"""Writing one outbound message to a file, for the drops that stand in for a provider (see `OUTBOX_DROP_DIR`)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["drop_file"]


def drop_file(directory: Path, name: str, content: bytes) -> Path:
    """Write ``content`` to ``directory/name`` under a temporary name, synced, then renamed: never half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    temporary = path.with_name(f".{name}.tmp")
    with temporary.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return path
