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
        active_seconds REAL NOT NULL DEFAULT 0,
        owner        TEXT,   -- host:pid of the process driving the run (a lease)
        heartbeat_at REAL,   -- refreshed by that process while it lives
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

    -- The leader's quality review of a result, one row per round, and the
    -- human's decision on it (accept, or rework with feedback and the
    -- subtasks sent back; none named: only the synthesis is redone).
    CREATE TABLE reviews (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        round        INTEGER NOT NULL,
        result       TEXT,
        verdict_json TEXT NOT NULL DEFAULT '{}',
        decision     TEXT,           -- accept | rework | NULL while it waits
        feedback     TEXT,
        subtasks_json TEXT NOT NULL DEFAULT '[]',
        decided_by   TEXT,
        created_at   REAL NOT NULL,
        decided_at   REAL,
        UNIQUE (execution_id, round)
    );

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
    -- UNIQUE above lets project-wide (NULL agent) duplicates through; this does not.
    CREATE UNIQUE INDEX memories_one_per_scope ON memories(text_hash, coalesce(agent, ''));
    CREATE INDEX memories_by_scope ON memories(agent, kind, id);

    -- Embedding spaces: one per (embedder, dim). Each space's vectors live in
    -- a vec0 table memory_vec_<id> made at runtime, because its dimension is
    -- whatever the embedder returns. Exactly one space is active; switching
    -- embedder re-embeds into a new space instead of mixing them.
    CREATE TABLE memory_spaces (
        id          INTEGER PRIMARY KEY,
        embedder    TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        coarse_bits INTEGER NOT NULL,
        seed        INTEGER NOT NULL,
        active      INTEGER NOT NULL DEFAULT 0,
        created_at  REAL NOT NULL,
        UNIQUE (embedder, dim)
    );

    -- Files agents wrote in a run's workspace (latest version per path).
    -- content holds the bytes up to a size limit so an archive carries them.
    CREATE TABLE workspace_files (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        path         TEXT NOT NULL,
        sha256       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        is_text      INTEGER NOT NULL DEFAULT 1,
        content      BLOB,
        subtask_id   TEXT,
        agent        TEXT,
        tool         TEXT NOT NULL DEFAULT '',
        updated_at   REAL NOT NULL,
        PRIMARY KEY (execution_id, path)
    );

    -- MCP servers registered for this project. Secrets are referenced by
    -- vault name only; their values never enter this file.
    CREATE TABLE mcp_servers (
        name         TEXT PRIMARY KEY,
        transport    TEXT NOT NULL,
        command      TEXT,
        args_json    TEXT NOT NULL DEFAULT '[]',
        url          TEXT,
        env_json     TEXT NOT NULL DEFAULT '{}',
        secrets_json TEXT NOT NULL DEFAULT '[]',
        cwd          TEXT,
        timeout_s    REAL NOT NULL DEFAULT 30,
        tools_json   TEXT,  -- last tool listing seen (from `mcp test` or a run)
        enabled      INTEGER NOT NULL DEFAULT 1,
        created_at   REAL NOT NULL
    );

    -- Approval requests for tool calls whose policy is "ask", and their decision.
    CREATE TABLE tool_approvals (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT REFERENCES executions(id) ON DELETE CASCADE,
        subtask_id   TEXT,
        agent        TEXT NOT NULL,
        tool         TEXT NOT NULL,
        arguments    TEXT NOT NULL DEFAULT '{}',
        status       TEXT NOT NULL DEFAULT 'pending',
        decided_by   TEXT,
        reason       TEXT,
        created_at   REAL NOT NULL,
        decided_at   REAL
    );
    CREATE INDEX tool_approvals_pending ON tool_approvals(execution_id, status);

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
    # ---- v2: how each run was started (RunSettings as JSON; NULL for runs from before v2, which
    # resume with the defaults of the day). Never holds a secret.
    """
    ALTER TABLE executions ADD COLUMN settings_json TEXT;
    """,
    # ---- v3: the project board. Cards live in the project, not in a run: the backlog people and
    # agents fill and `podium work` takes from. `claimed_by` is the host:pid of the worker that took
    # the card (its run holds the lease that says whether that worker still lives).
    """
    CREATE TABLE cards (
        id           INTEGER PRIMARY KEY,
        title        TEXT NOT NULL,
        details      TEXT NOT NULL DEFAULT '',
        criteria_json TEXT NOT NULL DEFAULT '[]',
        priority     INTEGER NOT NULL DEFAULT 2,   -- 0 urgent, 1 high, 2 normal, 3 low
        team         TEXT,
        column_key   TEXT NOT NULL,  -- backlog|todo|in_progress|needs_help|review|done|failed
        depends_json TEXT NOT NULL DEFAULT '[]',  -- ids of cards that must be done first
        created_by   TEXT NOT NULL,
        source_execution TEXT,
        source_agent TEXT,
        reason       TEXT,
        claimed_by   TEXT,
        result       TEXT,
        archived     INTEGER NOT NULL DEFAULT 0,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL
    );
    CREATE INDEX cards_ready ON cards(column_key, archived, priority, id);

    CREATE TABLE card_runs (
        card_id      INTEGER NOT NULL REFERENCES cards(id) ON DELETE CASCADE,
        execution_id TEXT NOT NULL,
        created_at   REAL NOT NULL,
        PRIMARY KEY (card_id, execution_id)
    );
    """,
    # ---- v4: who wrote each plan version: NULL the leader (every plan before v4), else a person
    # ("user") who edited the proposed plan before approval (`podium plan edit`, the TUI).
    """
    ALTER TABLE plans ADD COLUMN author TEXT;
    """,
    # ---- v5: proposals to change a running plan: an agent's new subtask (`propose_subtask`) or the
    # leader's replan of the unfinished part; pending until the leader, a person or the run's
    # policy decides. `changes_json` is the list of PlanChange it asks for; `version` the plan
    # version its acceptance made (in the same transaction as the graph change).
    """
    CREATE TABLE proposals (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        number       INTEGER NOT NULL,
        kind         TEXT NOT NULL,               -- subtask | replan
        proposed_by  TEXT NOT NULL,               -- an agent's name, or the leader's
        from_subtask TEXT,
        changes_json TEXT NOT NULL,
        reason       TEXT NOT NULL DEFAULT '',
        status       TEXT NOT NULL,               -- pending | accepted | declined
        decided_by   TEXT,
        decision     TEXT,
        version      INTEGER,
        created_at   REAL NOT NULL,
        decided_at   REAL,
        PRIMARY KEY (execution_id, number)
    );
    """,
    # ---- v6: runs started on the user's own folder (`--workspace PATH`): a git worktree on the
    # branch `branch` from `base_commit`, or a copy (`kind` dir) whose baseline commit lives in
    # Podium's repository `git_dir`, with the sha256 of every copied file (`manifest_json`) so an
    # apply can tell the original changed since. `diff`/`files_json`: the diff last shown (an
    # archive carries it); `applied_to`: the branch merged into, or the folder written.
    """
    CREATE TABLE run_workspaces (
        execution_id TEXT PRIMARY KEY REFERENCES executions(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL,               -- git | dir
        source       TEXT NOT NULL,
        path         TEXT NOT NULL,
        base_commit  TEXT NOT NULL,
        branch       TEXT,
        git_dir      TEXT,
        head_commit  TEXT,
        diff         TEXT,
        files_json   TEXT NOT NULL DEFAULT '[]',
        manifest_json TEXT NOT NULL DEFAULT '{}',
        applied_at   REAL,
        applied_to   TEXT,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL
    );
    """,
    # ---- v7: sources a run read (web_search hits, fetch_url pages), numbered per run (S1, S2, ...)
    # and recorded per subtask: the text read (clipped to a limit; `truncated`) and its sha256,
    # so a citation can be checked later against exactly what was read, offline. `claim_checks`:
    # a fact-checker's `check_claims` verdicts (supported | unsupported | not_found).
    """
    CREATE TABLE sources (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        number       INTEGER NOT NULL,
        subtask_id   TEXT,
        agent        TEXT NOT NULL,
        kind         TEXT NOT NULL,               -- search | page
        url          TEXT NOT NULL,
        title        TEXT NOT NULL DEFAULT '',
        query        TEXT,
        provider     TEXT,
        fetched_at   REAL NOT NULL,
        sha256       TEXT NOT NULL,
        chars        INTEGER NOT NULL,
        text         TEXT NOT NULL,
        truncated    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (execution_id, number)
    );
    CREATE UNIQUE INDEX sources_per_subtask ON sources(execution_id, coalesce(subtask_id, ''), url);

    CREATE TABLE claim_checks (
        id           INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        subtask_id   TEXT,
        agent        TEXT NOT NULL,
        source       TEXT NOT NULL,               -- the id as cited: S3
        claim        TEXT NOT NULL,
        quote        TEXT,
        verdict      TEXT NOT NULL,
        evidence     TEXT NOT NULL DEFAULT '',
        created_at   REAL NOT NULL
    );
    CREATE INDEX claim_checks_by_run ON claim_checks(execution_id, id);
    """,
    # ---- v8: forks (`podium fork`): a run made from another one's finished work. `run_forks` says
    # which run it came from, what was asked to run again (`from_json`), which outputs a person
    # replaced (`edited_json`) and what runs again (`rerun_json`: those, what was unfinished, and
    # everything downstream). `fork_reuse` is the snapshot of each reused subtask taken when the
    # fork was made (its output, usage and times); it becomes the subtask's row when the fork's
    # plan is approved, if the approved plan still has that subtask unchanged (`applied` 1, else 0).
    """
    CREATE TABLE run_forks (
        execution_id TEXT PRIMARY KEY REFERENCES executions(id) ON DELETE CASCADE,
        parent_id    TEXT NOT NULL,
        from_json    TEXT NOT NULL DEFAULT '[]',
        edited_json  TEXT NOT NULL DEFAULT '[]',
        rerun_json   TEXT NOT NULL DEFAULT '[]',
        changes_json TEXT NOT NULL DEFAULT '[]',   -- what the fork changed: objective, model, team
        created_at   REAL NOT NULL
    );
    CREATE INDEX run_forks_by_parent ON run_forks(parent_id);

    CREATE TABLE fork_reuse (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        subtask_id   TEXT NOT NULL,
        source_execution TEXT NOT NULL,
        source_subtask   TEXT NOT NULL,
        edited       INTEGER NOT NULL DEFAULT 0,
        definition_json TEXT NOT NULL,             -- agent, description, depends_on, criteria
        output       TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd     REAL NOT NULL DEFAULT 0,
        calls        INTEGER NOT NULL DEFAULT 0,
        started_at   REAL,
        finished_at  REAL,
        applied      INTEGER,
        PRIMARY KEY (execution_id, subtask_id)
    );
    """,
    # ---- v9: when a fork's reused subtasks' files were written into its workspace folder (once,
    # after its plan is approved and before anything runs; NULL: not yet). A resumed fork whose
    # files were written does not write them again over what its re-run agents did since.
    """
    ALTER TABLE run_forks ADD COLUMN files_restored_at REAL;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
