"""Files written whole or not at all: a temporary file in the target's folder, then an atomic
rename, so an interrupted run never leaves a half-written output."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def default_file_mode() -> int:
    """The mode a plain ``open(..., "w")`` would give a new file (0o666 less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(target: Path, write: Callable[[str], object], *, suffix: str = ".tmp") -> None:
    """Create ``target`` whole or not at all: ``write(tmp_path)`` fills a temporary file in the
    same folder, which then gets the usual permissions (not ``mkstemp``'s private 0600) and is
    renamed over ``target``; on any error the temporary file is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically (see :func:`atomic_write`)."""
    atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
