"""Open SQLite connections that can load sqlite-vec.

This Python's stdlib sqlite3 cannot load extensions, so every connection
goes through pysqlite3 (a bundled, extension-capable SQLite). aiosqlite
drives it from its own thread; catch `pysqlite3.dbapi2.Error`, not
aiosqlite's re-exported stdlib classes, which will not match.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import pysqlite3.dbapi2 as sqlite

SqliteError = sqlite.Error
Row = sqlite.Row
BUSY_TIMEOUT_MS = 10_000


@cache
def vec_extension_path() -> str:
    """sqlite-vec's loadable library, found without importing the package:
    `import sqlite_vec` pulls in numpy (~50 ms), which every CLI call would pay."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("sqlite-vec is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "vec0")


def connect(path: Path, *, readonly: bool = False) -> Any:
    """A configured pysqlite3 connection with sqlite-vec loaded.

    `isolation_level=None` puts transaction control in our hands: writers
    use BEGIN IMMEDIATE so two processes never deadlock upgrading a lock.
    """
    if readonly:
        conn = sqlite.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
            check_same_thread=False,
        )
    else:
        conn = sqlite.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.enable_load_extension(True)
        conn.load_extension(vec_extension_path())
        conn.enable_load_extension(False)
        conn.row_factory = sqlite.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            # WAL is switched on by the store after it has checked the file.
            # NORMAL in WAL mode: a committed transaction survives a process
            # crash (kill -9); only an OS crash can lose the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("SELECT vec_version()").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn
