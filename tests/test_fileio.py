"""Outputs are written whole or not at all, with ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from skycell.fileio import atomic_write, atomic_write_text, default_file_mode


def test_atomic_write_text_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "deployment.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert stat.S_IMODE(os.stat(target).st_mode) == default_file_mode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["deployment.json"]


def test_failed_write_leaves_old_file_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "plan.png"
    atomic_write_text(target, "old")

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]
