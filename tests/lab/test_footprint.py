"""What a worker holds, read from /proc: checked against what this process itself allocates and
opens, so the figures cannot agree with the code that reads them by construction."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from asgi_lab.lab.footprint import memory_available, open_files, rss

MIB = 1024 * 1024


def test_rss_grows_with_what_the_process_touches() -> None:
    before = rss(os.getpid())
    block = bytearray(64 * MIB)  # zero-filled, so every page is touched
    try:
        assert rss(os.getpid()) - before > 32 * MIB
    finally:
        del block
    assert 0 < memory_available()


def test_open_files_counts_one_descriptor_per_sqlite_connection(tmp_path: Path) -> None:
    db = tmp_path / "count.sqlite3"
    sqlite3.connect(db).close()
    assert open_files(os.getpid(), str(db)) == 0
    connections = [sqlite3.connect(db) for _ in range(3)]
    try:
        for c in connections:
            c.execute("SELECT 1").fetchone()
        assert open_files(os.getpid(), str(db)) == 3
    finally:
        for c in connections:
            c.close()
    assert open_files(os.getpid(), str(db)) == 0


def test_a_process_that_is_not_there_raises() -> None:
    with pytest.raises(FileNotFoundError):
        rss(2**22 + 1)  # above the kernel's pid_max default of 4194304
