"""A project with fixed ids and timestamps, written straight into the store, for stable snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podium import events as ev
from podium.store import ProjectStore

T0 = 1_735_812_000.0  # 2025-01-02, so the runs table shows a date, not "today"
NOW = T0 + 161  # the app's clock in snapshots: 02:41 into the run

PLAN = {"rationale": "Sources, then analysis and checks in parallel, then the brief.", "subtasks": [
    {"id": "t1", "agent": "researcher", "description": "Collect sources on heat pumps",
     "acceptance_criteria": ["three sources or more"], "estimated_tokens": 2000},
    {"id": "t2", "agent": "analyst", "description": "Analyse running costs against oil heating",
     "depends_on": ["t1"], "acceptance_criteria": ["table with € per year", "sources cited"],
     "estimated_tokens": 3000},
    {"id": "t3", "agent": "fact-checker", "description": "Check the claims", "depends_on": ["t1"],
     "estimated_tokens": 1500},
    {"id": "t4", "agent": "researcher", "description": "Find examples", "depends_on": ["t1"],
     "estimated_tokens": 1500},
    {"id": "t5", "agent": "writer", "description": "Write the brief", "depends_on": ["t2", "t3", "t4"],
     "estimated_tokens": 2500},
]}

AGENTS = ["researcher", "analyst", "fact-checker", "writer"]


def _running_events() -> list[tuple[str, dict[str, Any]]]:
    return [
        (ev.RUN_CREATED, {"objective": "One-page brief on heat pumps for a Norwegian homeowner",
                          "team": "research", "model": "local", "agents": AGENTS, "leader": "analyst",
                          "budget": {"tokens": 200000, "steps": 200}}),
        (ev.RUN_STATUS, {"status": "planning"}),
        (ev.MESSAGE_ADDED, {"message_id": 1, "agent": "researcher", "subtask_id": None, "role": "assistant",
                            "phase": "discussion",
                            "content": "Start from **NVE** data on cold-climate COP."}),
        (ev.PLAN_PROPOSED, {"version": 1, "plan": PLAN, "fallback": False}),
        (ev.RUN_STATUS, {"status": "awaiting_approval"}),
        (ev.PLAN_APPROVED, {"version": 1, "by": "user"}),
        (ev.RUN_STATUS, {"status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t1", "agent": "researcher", "status": "running"}),
        (ev.MESSAGE_ADDED, {"message_id": 2, "agent": "researcher", "subtask_id": "t1", "role": "assistant",
                            "phase": "execution", "content": "Found three sources: NVE, Enova, SSB.",
                            "prompt_tokens": 900, "completion_tokens": 400}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t1", "agent": "researcher", "status": "done",
                             "output": "3 sources"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t2", "agent": "analyst", "status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t3", "agent": "fact-checker", "status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t4", "agent": "researcher", "status": "running"}),
        (ev.MEMORY_RECALLED, {"subtask_id": "t2", "agent": "analyst", "items": [
            {"id": 4, "text": "Customers are mostly in Tromsø", "kind": "fact", "score": 0.82}]}),
        (ev.CONSULTATION_STARTED, {"id": 1, "subtask_id": "t2", "asker": "analyst", "peer": "fact-checker",
                                   "question": "Is COP 3.1 at −15 °C plausible?", "depth": 1}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t2", "agent": "analyst", "status": "waiting_peer"}),
        (ev.CONSULTATION_FINISHED, {"id": 1, "subtask_id": "t2", "asker": "analyst", "peer": "fact-checker",
                                    "answer": "Plausible for air-to-water; cite the NVE study."}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t2", "agent": "analyst", "status": "running"}),
        (ev.INTERVENTION, {"id": 1, "kind": "guidance", "text": "Use metric units", "source": "tui"}),
        (ev.MESSAGE_ADDED, {"message_id": 3, "agent": "analyst", "subtask_id": "t2", "role": "assistant",
                            "phase": "execution", "prompt_tokens": 1200, "completion_tokens": 700,
                            "content": "Running costs for a 120 m² house in Tromsø:\n\n"
                                       "| heating | € / year |\n"
                                       "|---|---|\n| oil | 2 900 |\n| heat pump | 1 100 |"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t4", "agent": "researcher", "status": "done",
                             "output": "examples"}),
        (ev.HELP_REQUESTED, {"subtask_id": "t3", "agent": "fact-checker",
                             "question": "Should prices include VAT?"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "t3", "agent": "fact-checker", "status": "needs_help"}),
        (ev.RUN_USAGE, {"prompt_tokens": 6100, "completion_tokens": 3700, "cost_usd": 0.0, "calls": 14,
                        "steps": 14}),
    ]


def _finished_events() -> list[tuple[str, dict[str, Any]]]:
    plan = {"subtasks": [{"id": "s1", "agent": "researcher", "description": "Gather facts"},
                         {"id": "s2", "agent": "writer", "description": "Summarise", "depends_on": ["s1"]}]}
    return [
        (ev.RUN_CREATED, {"objective": "Summarise the heat pump subsidy rules", "team": "research",
                          "model": "local", "agents": ["researcher", "writer"], "leader": "writer"}),
        (ev.RUN_STATUS, {"status": "planning"}),
        (ev.PLAN_PROPOSED, {"version": 1, "plan": plan, "fallback": False}),
        (ev.RUN_STATUS, {"status": "awaiting_approval"}),
        (ev.PLAN_REJECTED, {"version": 1, "feedback": "Cite the Enova page"}),
        (ev.PLAN_PROPOSED, {"version": 2, "plan": plan, "fallback": False}),
        (ev.PLAN_APPROVED, {"version": 2, "by": "user"}),
        (ev.RUN_STATUS, {"status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "s1", "agent": "researcher", "status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "s1", "agent": "researcher", "status": "done", "output": "facts"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "s2", "agent": "writer", "status": "running"}),
        (ev.SUBTASK_STATUS, {"subtask_id": "s2", "agent": "writer", "status": "failed",
                             "error": "budget exhausted"}),
        (ev.RUN_USAGE, {"prompt_tokens": 1500, "completion_tokens": 600, "cost_usd": 0.0021, "calls": 4,
                        "steps": 4}),
        (ev.RUN_RESULT, {"result": "Enova pays up to 10 000 NOK for air-to-water heat pumps."}),
        (ev.RUN_STATUS, {"status": "partial"}),
    ]


async def seed_project(path: Path) -> None:
    """Two runs: 'run7f3a' running (with a help request), 'runb00c' finished (partial)."""
    store = await ProjectStore.open(path)

    def write(tx: Any) -> None:
        runs = [("run7f3a", "running", _running_events(), T0, None, (6100, 3700, 0.0, 14)),
                ("runb00c", "partial", _finished_events(), T0 - 86_400, T0 - 86_400 + 95,
                 (1500, 600, 0.0021, 4))]
        for run_id, status, events, start, end, (pt, ct, cost, steps) in runs:
            created = events[0][1]
            tx.execute(
                "INSERT INTO executions (id, objective, team, model, status, prompt_tokens,"
                " completion_tokens,"
                " cost_usd, calls, steps, created_at, updated_at, finished_at)"
                " VALUES (?, ?, 'research', 'local', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, created["objective"], status, pt, ct, cost, steps, steps, start, end or start, end),
            )
            for i, (type, payload) in enumerate(events):
                # Fixed timestamps (tx.emit would stamp the wall clock): stable snapshots.
                tx.execute("INSERT INTO events (execution_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                           (run_id, type, json.dumps(payload), start + i * (95 / len(events))))

    await store.write(write)
    await store.close()
