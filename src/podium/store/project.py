"""The project file: one SQLite database that holds everything a project did.

All access from async code goes through one aiosqlite connection. A write is
a synchronous function run whole on that connection's thread inside
BEGIN IMMEDIATE ... COMMIT, so coroutines never interleave statements in a
transaction, and it costs one thread hop however many rows it writes.
Events recorded by the function are appended in the same transaction and
published on the bus only after COMMIT.

The connection's thread takes work in the order it was submitted, so a
write need not be awaited for what follows it to see it: `write_behind`
queues a transaction and returns at once, and any later read or write on
this connection runs after it. A second, read-only connection
(`read_committed`) reads what is committed now without waiting behind the
queue.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from podium.domain import Event, EventPayload, Message, read_payload
from podium.errors import NotAProjectError, ReadOnlyError
from podium.events import validate_payload
from podium.store.bus import EventBus
from podium.store.connection import BUSY_TIMEOUT_MS, SqliteError, connect
from podium.store.header import APPLICATION_ID, check_project_file
from podium.store.recent_messages import RecentMessages
from podium.store.schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")


class Tx:
    """A write transaction: the raw connection plus an event recorder."""

    def __init__(self, conn: Any, messages: Sequence[Message] = ()) -> None:
        self.conn = conn
        self.events: list[RawEvent] = []
        self.messages = messages  # declared when queued (see ProjectStore.write_behind)
        self.undeclared_runs: set[str] = set()  # runs a message was written to without that

    def inserting(self, message: Message) -> None:
        """A message row is being written: if it was not declared, its run's recent-message
        log (see recent_messages.py) no longer holds and is dropped after COMMIT."""
        if not any(m is message for m in self.messages):
            self.undeclared_runs.add(message.execution_id)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def emit(self, type: str, execution_id: str | None = None, **payload: Any) -> int:
        """Append an event in this transaction; returns its sequence number.

        The payload is checked against its type's model first (`podium.events`): a wrong one
        raises InvalidEventError and nothing is written. The row keeps the arguments as given.
        """
        typed = validate_payload(type, payload)
        created = time.time()
        cur = self.conn.execute(
            "INSERT INTO events (execution_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
            (execution_id, type, json.dumps(payload, default=str), created),
        )
        seq: int = cur.lastrowid
        cur.close()
        # Event objects are built after COMMIT, and only if someone listens.
        self.events.append((seq, execution_id, type, typed, created))
        return seq


RawEvent = tuple[int, str | None, str, EventPayload, float]


def _to_event(raw: RawEvent) -> Event:
    seq, execution_id, type, payload, created = raw
    return Event.model_construct(
        seq=seq, execution_id=execution_id, type=type, payload=payload, created_at=created
    )


def _fetchall(conn: Any, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


class ProjectStore:
    def __init__(self, path: Path, db: aiosqlite.Connection, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.bus = EventBus()
        self._db = db
        self.recent = RecentMessages()  # runs' last messages as queued here (a subtask's first window)
        self._tables: frozenset[str] | None = None  # read once: migrations run only at open

    # ------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, path: Path | str, *, readonly: bool = False, create: bool = True) -> ProjectStore:
        """Open (and if allowed create or migrate) a project file.

        Raises NotAProjectError, without touching the file, when it is not a
        Podium project this build can open.
        """
        path = Path(path)
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            check_project_file(path, SCHEMA_VERSION)
        elif readonly or not create:
            raise NotAProjectError(f"{path} does not exist")
        elif not path.parent.exists():
            raise NotAProjectError(f"cannot create {path}: folder {path.parent} does not exist")

        db = aiosqlite.Connection(lambda: connect(path, readonly=readonly), iter_chunk_size=64)
        try:
            await db
        except SqliteError as exc:
            raise NotAProjectError(f"cannot open {path}: {exc}") from None
        store = cls(path, db, readonly)
        try:
            if readonly:
                await store._check_readable()
            else:
                await store.run(store._migrate)
        except SqliteError as exc:
            await store.close()
            raise NotAProjectError(f"{path} is damaged or not a Podium project: {exc}") from None
        except NotAProjectError as exc:
            await store.close()
            raise NotAProjectError(f"{path}: {exc}") from None
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> ProjectStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    def _migrate(conn: Any) -> None:
        # Validate before the first write: a foreign file must stay untouched. Both reads in one
        # read transaction: another process creating the project between them would otherwise
        # look like a stamp-less file with tables (a foreign database).
        conn.execute("BEGIN")
        try:
            _, app_id = _stamp(conn)
            foreign = app_id == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.execute("COMMIT")
        if foreign:
            raise NotAProjectError("an SQLite database but not a Podium project")
        _switch_to_wal(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated.
            version, app_id = _stamp(conn)
            if app_id == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for number, script in enumerate(MIGRATIONS, start=1):
                if number > version:
                    # executescript would COMMIT our transaction; run statements one by one.
                    for statement in _split_sql(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def _check_readable(self) -> None:
        _, app_id = await self.run(_stamp)
        if app_id != APPLICATION_ID:
            raise NotAProjectError(f"{self.path} is not a Podium project")

    async def has_table(self, name: str) -> bool:
        """Whether the file has this table: an archive opened read-only is never migrated, so an
        older one lacks what later versions added, and its readers find nothing there."""
        if self._tables is None:
            rows = await self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            self._tables = frozenset(r[0] for r in rows)
        return name in self._tables



    # ------------------------------------------------------------ access

    def _submit(self, fn: Callable[[Any], T]) -> asyncio.Future[T]:
        """Queue `fn(raw_connection)` on the database thread now (not when a task next runs):
        the queue's order is the order of submission, which write_behind relies on."""
        db = self._db
        if not db._running or db._connection is None:  # what aiosqlite's own _execute checks
            raise ValueError("the project file is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        db._tx.put_nowait((future, partial(fn, db._connection)))
        return future

    async def run(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(raw_connection)` on the database thread (reads only)."""
        return await self._submit(fn)

    async def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        return await self.run(lambda conn: _fetchall(conn, sql, params))

    async def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any | None:
        rows = await self.query(sql, params)
        return rows[0] if rows else None

    async def write(self, fn: Callable[[Tx], T], *, messages: Sequence[Message] = ()) -> T:
        """Run `fn(tx)` in one transaction; publish its events after COMMIT. `messages`: the
        message rows `fn` writes (see write_behind)."""
        return await self.write_behind(fn, messages=messages)

    def write_behind(self, fn: Callable[[Tx], T], *, messages: Sequence[Message] = ()) -> asyncio.Future[T]:
        """Queue `fn(tx)` as one transaction and return at once; its events are published after
        COMMIT. Everything submitted later on this connection runs after it, so a caller may go
        on without waiting; it must still await the future, to learn of a failure.

        `messages`: the message rows `fn` writes, declared now so the runs' recent-message logs
        have them in the order the database will (a subtask's first window reads those)."""
        if self.readonly:
            raise ReadOnlyError(f"{self.path} is open read-only (an archive); nothing was changed")

        def transaction(conn: Any) -> tuple[T, Tx]:
            tx = Tx(conn, messages)
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(tx)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result, tx

        committed = self._submit(transaction)
        self.recent.queued(messages)
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def settle(f: asyncio.Future[tuple[T, Tx]]) -> None:
            failed = f.cancelled() or f.exception() is not None
            if failed:  # declared messages that were never written: those logs are wrong now
                self.recent.forget({m.execution_id for m in messages})
            else:
                result, tx = f.result()
                self.recent.forget(tx.undeclared_runs)
                self._publish(tx.events)
            if done.cancelled():  # the caller stopped waiting; the transaction went ahead regardless
                return
            if f.cancelled():
                done.cancel()
            elif (exc := f.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(result)

        committed.add_done_callback(settle)
        return done

    def _publish(self, events: list[RawEvent]) -> None:
        if events and self.bus.subscriber_count:
            self.bus.publish(map(_to_event, events))

    async def append_event(self, type: str, execution_id: str | None = None, **payload: Any) -> Event:
        def append(tx: Tx) -> RawEvent:
            tx.emit(type, execution_id, **payload)
            return tx.events[-1]

        return _to_event(await self.write(append))

    async def events_since(self, seq: int, execution_id: str | None = None, limit: int = 1000) -> list[Event]:
        """Committed events after `seq`: how another process follows this file."""
        if execution_id is None:
            rows = await self.query(
                "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            )
        else:
            rows = await self.query(
                "SELECT * FROM events WHERE seq > ? AND execution_id = ? ORDER BY seq LIMIT ?",
                (seq, execution_id, limit),
            )
        return [row_to_event(r) for r in rows]

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and truncate it (so its size is the data's)."""
        await self.run(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").close())

    # ------------------------------------------------------------ settings

    async def get_meta(self, key: str) -> str | None:
        row = await self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row[0]

    async def set_meta(self, key: str, value: str) -> None:
        def upsert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

        await self.write(upsert)


def _stamp(conn: Any) -> tuple[int, int]:
    """(schema version, application_id) as SQLite sees them, WAL included."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id not in (0, APPLICATION_ID):
        raise NotAProjectError(f"not a Podium project (application_id {app_id:#x})")
    if version > SCHEMA_VERSION:
        raise NotAProjectError(
            f"project schema v{version} is newer than this podium understands (v{SCHEMA_VERSION})"
        )
    return version, app_id


def row_to_event(row: Any) -> Event:
    """A stored row as an Event, its payload parsed once by its type's model (leniently:
    rows of older or newer writers parse; what cannot is an UnparsedPayload)."""
    type = row["type"]
    return Event.model_construct(
        seq=row["seq"], execution_id=row["execution_id"], type=type,
        payload=read_payload(type, json.loads(row["payload"])), created_at=row["created_at"],
    )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    import pysqlite3.dbapi2 as sqlite

    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _switch_to_wal(conn: Any) -> None:
    """Switch the file to WAL, waiting while another process holds it.

    Changing the journal mode needs the file to itself, and SQLite answers
    "database is locked" at once rather than through the busy timeout, so two
    processes opening a new project together would have one fail; retry
    for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").close()
            return
        except SqliteError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
