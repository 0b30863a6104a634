"""The project file through the store API: schema, transactions, events, bad files."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from podium import events as ev
from podium.errors import NotAProjectError, ReadOnlyError
from podium.store import SCHEMA_VERSION, ProjectStore
from podium.store.connection import SqliteError
from podium.store.header import APPLICATION_ID, read_header


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_new_project_is_stamped_and_in_wal(tmp_path):
    path = tmp_path / "p.podium"
    async with await ProjectStore.open(path) as store:
        mode = await store.query_one("PRAGMA journal_mode")
        fk = await store.query_one("PRAGMA foreign_keys")
        vec = await store.query_one("SELECT vec_version()")
    header = read_header(path)
    assert header.application_id == APPLICATION_ID
    assert header.schema_version == SCHEMA_VERSION
    assert mode[0] == "wal" and fk[0] == 1 and vec[0].startswith("v")


async def test_write_publishes_events_only_after_commit(tmp_path):
    async with await ProjectStore.open(tmp_path / "p.podium") as store:
        async with store.bus.subscribe() as queue:

            def failing(tx):
                tx.emit(ev.RUN_RESULT, None, result="will vanish")
                raise RuntimeError("boom")

            with pytest.raises(RuntimeError):
                await store.write(failing)
            assert queue.empty()
            assert await store.query("SELECT * FROM events") == []

            event = await store.append_event("run.created", None, objective="x", team="research")
            got = await asyncio.wait_for(queue.get(), 1)
        assert got.seq == event.seq and got.type == "run.created"
        assert got.payload == ev.RunCreated(objective="x", team="research")
        assert got.payload.as_dict() == {"objective": "x", "team": "research"}
        assert [e.type for e in await store.events_since(0)] == ["run.created"]


async def test_events_are_append_only(tmp_path):
    async with await ProjectStore.open(tmp_path / "p.podium") as store:
        await store.append_event(ev.RUN_RESULT, None, result="a")
        with pytest.raises(SqliteError, match="append-only"):
            await store.write(lambda tx: tx.execute("UPDATE events SET type = 'b'"))
        with pytest.raises(SqliteError, match="append-only"):
            await store.write(lambda tx: tx.execute("DELETE FROM events"))


async def test_fts_indexes_messages_and_memories(tmp_path):
    async with await ProjectStore.open(tmp_path / "p.podium") as store:

        def seed(tx):
            tx.execute(
                "INSERT INTO executions (id, objective, team, status, created_at, updated_at)"
                " VALUES ('r1', 'o', 'research', 'running', 0, 0)"
            )
            tx.execute(
                "INSERT INTO messages (execution_id, agent, role, content, phase, created_at)"
                " VALUES ('r1', 'analyst', 'assistant', 'Heat pumps are efficient', 'execution', 0)"
            )
            tx.execute(
                "INSERT INTO memories (kind, text, text_hash, created_at)"
                " VALUES ('fact', 'Customers live in Tromsø', 'h', 0)"
            )

        await store.write(seed)
        hits = await store.query("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'pump'")
        mem = await store.query("SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'customers'")
    assert len(hits) == 1 and len(mem) == 1


async def test_readonly_refuses_writes_and_leaves_file(tmp_path):
    path = tmp_path / "p.podium"
    async with await ProjectStore.open(path) as store:
        await store.append_event(ev.RUN_RESULT, None, result="a")
    before = digest(path)
    async with await ProjectStore.open(path, readonly=True) as store:
        with pytest.raises(ReadOnlyError, match="read-only"):
            await store.append_event(ev.RUN_RESULT, None, result="b")
    assert digest(path) == before


def _sqlite_file(path: Path, app_id: int = 0, version: int = 0) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("maker", "message"),
    [
        (lambda p: p.write_text("hello, not a database\n" * 10), "not an SQLite file"),
        (lambda p: _sqlite_file(p), "not a Podium project"),
        (lambda p: _sqlite_file(p, APPLICATION_ID, SCHEMA_VERSION + 5), "newer than this podium"),
    ],
    ids=["text", "foreign-sqlite", "newer-schema"],
)
async def test_bad_files_are_refused_untouched(tmp_path, maker, message):
    path = tmp_path / "bad.podium"
    maker(path)
    before = digest(path)
    for readonly in (False, True):
        with pytest.raises(NotAProjectError, match=message):
            await ProjectStore.open(path, readonly=readonly)
    assert digest(path) == before
    assert not path.with_name("bad.podium-wal").exists()


async def test_truncated_project_is_refused(tmp_path):
    path = tmp_path / "p.podium"
    async with await ProjectStore.open(path) as store:
        for i in range(200):
            await store.append_event(ev.RUN_RESULT, None, result=f"{i} " + "x" * 500)
        await store.run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").close())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    path.with_name("p.podium-wal").unlink(missing_ok=True)
    with pytest.raises(NotAProjectError, match="truncated"):
        await ProjectStore.open(path)


WRITER = """
import asyncio, sys
from podium.store import ProjectStore

async def main(path, tag, n):
    store = await ProjectStore.open(path)
    for i in range(n):
        def step(tx, i=i):
            tx.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (f"{tag}-{i}", "v"))
            tx.emit("intervention", None, kind="guidance", text=f"{tag}-{i}", source="writer")
        await store.write(step)
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_two_processes_share_a_project_safely(tmp_path):
    path = tmp_path / "shared.podium"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, "300"])
        for tag in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    async with await ProjectStore.open(path) as store:
        events = await store.query("SELECT count(*) FROM events WHERE type = 'intervention'")
        meta = await store.query("SELECT count(*) FROM meta")
        check = await store.query_one("PRAGMA integrity_check")
    assert events[0][0] == 600 and meta[0][0] == 600 and check[0] == "ok"
