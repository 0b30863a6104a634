"""Ordered forward migrations. Migration N brings the file to user_version N.

Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # ---- v1: the foundation
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE executions (
        id          TEXT PRIMARY KEY,
        objective   TEXT NOT NULL,
        team        TEXT NOT NULL,
        team_json   TEXT NOT NULL DEFAULT '{}',
        model       TEXT,
        status      TEXT NOT NULL,
        budget_json TEXT NOT NULL DEFAULT '{}',
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd    REAL NOT NULL DEFAULT 0,
        calls       INTEGER NOT NULL DEFAULT 0,
        steps       INTEGER NOT NULL DEFAULT 0,
        result      TEXT,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        finished_at REAL
    );

    CREATE TABLE plans (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        version      INTEGER NOT NULL,
        plan_json    TEXT NOT NULL,
        status       TEXT NOT NULL,
        feedback     TEXT,
        fallback     INTEGER NOT NULL DEFAULT 0,
        created_at   REAL NOT NULL,
        UNIQUE (execution_id, version)
    );

    CREATE TABLE subtasks (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        id           TEXT NOT NULL,
        position     INTEGER NOT NULL,
        agent        TEXT NOT NULL,
        description  TEXT NOT NULL,
        depends_on   TEXT NOT NULL DEFAULT '[]',
        acceptance   TEXT NOT NULL DEFAULT '[]',
        estimated_tokens INTEGER NOT NULL DEFAULT 0,
        tools        TEXT NOT NULL DEFAULT '[]',
        status       TEXT NOT NULL,
        output       TEXT,
        error        TEXT,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd     REAL NOT NULL DEFAULT 0,
        calls        INTEGER NOT NULL DEFAULT 0,
        started_at   REAL,
        finished_at  REAL,
        PRIMARY KEY (execution_id, id)
    );

    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        subtask_id   TEXT,
        agent        TEXT NOT NULL,
        role         TEXT NOT NULL,
        content      TEXT NOT NULL,
        phase        TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd     REAL NOT NULL DEFAULT 0,
        latency_ms   REAL NOT NULL DEFAULT 0,
        created_at   REAL NOT NULL
    );
    CREATE INDEX messages_by_execution ON messages(execution_id, id);

    CREATE TABLE events (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        execution_id TEXT,
        type         TEXT NOT NULL,
        payload      TEXT NOT NULL DEFAULT '{}',
        created_at   REAL NOT NULL
    );
    CREATE INDEX events_by_execution ON events(execution_id, seq);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        WHEN (SELECT value FROM meta WHERE key = 'allow_event_delete') IS NOT 'yes'
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

    CREATE TABLE consultations (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        subtask_id   TEXT,
        asker        TEXT NOT NULL,
        peer         TEXT NOT NULL,
        question     TEXT NOT NULL,
        answer       TEXT,
        error        TEXT,
        depth        INTEGER NOT NULL DEFAULT 1,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd     REAL NOT NULL DEFAULT 0,
        started_at   REAL NOT NULL,
        finished_at  REAL
    );

    CREATE TABLE interventions (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL,
        subtask_id   TEXT,
        text         TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL DEFAULT 'cli',
        created_at   REAL NOT NULL,
        consumed_at  REAL
    );
    CREATE INDEX interventions_pending ON interventions(execution_id, consumed_at, id);

    CREATE TABLE memories (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL,
        text         TEXT NOT NULL,
        agent        TEXT,
        source_execution TEXT,
        source_subtask   TEXT,
        text_hash    TEXT NOT NULL,
        created_at   REAL NOT NULL,
        UNIQUE (text_hash, agent)
    );

    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;

    CREATE VIRTUAL TABLE memories_fts USING fts5(
        text, content='memories', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
