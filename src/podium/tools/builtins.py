"""Built-in tools: files in the run's workspace, a shell there, URL fetch, memory search.

Each tool has a pydantic argument model (its JSON schema is what the model
sees) and an async implementation returning (text for the agent, workspace
paths it wrote).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podium.tools.shell import DEFAULT_TIMEOUT, MAX_TIMEOUT, run_command
from podium.tools.types import Policy, ToolContext, ToolError
from podium.tools.workspace import IGNORED_DIRS, Workspace

READ_LIMIT = 20_000
LIST_LIMIT = 500
SEARCH_LIMIT = 200
FETCH_LIMIT = 50_000


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadArgs(_Args):
    path: str = Field(description="File path relative to the workspace.")
    offset: int = Field(default=0, ge=0, description="Character offset to start at.")


class WriteArgs(_Args):
    path: str = Field(description="File path relative to the workspace; folders are created.")
    content: str = Field(description="The whole text to write.")
    append: bool = Field(default=False, description="Append instead of replacing the file.")


class ListArgs(_Args):
    path: str = Field(default=".", description="Folder relative to the workspace.")


class SearchArgs(_Args):
    pattern: str = Field(min_length=1, description="Regular expression (or plain text) to find.")
    path: str = Field(default=".", description="Folder or file to search, relative to the workspace.")


class CommandArgs(_Args):
    command: str = Field(min_length=1, description="Shell command, run with /bin/sh in the workspace.")
    timeout: float = Field(
        default=DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="Seconds before it is killed."
    )


class FetchArgs(_Args):
    url: str = Field(pattern=r"^https?://", description="http(s) URL to fetch.")


class MemoryArgs(_Args):
    query: str = Field(min_length=1, description="What to recall.")


@dataclass
class Env:
    """What a built-in may use besides its arguments."""

    workspace: Workspace
    ctx: ToolContext
    allow_network: bool  # fetch_url may reach the web (False when offline)
    shell_network: bool = False  # commands keep network access (off by default)
    protect: tuple[Path, ...] = ()  # never reachable from a command (the project file)
    memory: Any = None


Impl = Callable[[Any, Env], Awaitable[tuple[str, list[str]]]]


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    args: type[_Args]
    impl: Impl
    policy: Policy
    group: str


async def read_file(a: ReadArgs, env: Env) -> tuple[str, list[str]]:
    target = env.workspace.resolve(a.path, must_exist=True)
    if target.is_dir():
        raise ToolError(f"{a.path} is a folder; use list_files")
    data = target.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{a.path} is a binary file ({len(data)} bytes)") from None
    chunk = text[a.offset : a.offset + READ_LIMIT]
    rest = len(text) - a.offset - len(chunk)
    more = (
        f"\n[... {rest} more characters; read again with offset={a.offset + len(chunk)}]" if rest > 0 else ""
    )
    return chunk + more, []


async def write_file(a: WriteArgs, env: Env) -> tuple[str, list[str]]:
    target = env.workspace.resolve(a.path)
    if target.is_dir():
        raise ToolError(f"{a.path} is a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a" if a.append else "w", encoding="utf-8") as f:
        f.write(a.content)
    rel = env.workspace.relative(target)
    return f"{'appended' if a.append else 'wrote'} {len(a.content.encode())} bytes to {rel}", [rel]


async def list_files(a: ListArgs, env: Env) -> tuple[str, list[str]]:
    base = env.workspace.resolve(a.path, must_exist=True)
    if base.is_file():
        return f"{env.workspace.relative(base)}  ({base.stat().st_size} bytes)", []
    lines: list[str] = []
    for entry in sorted(base.rglob("*")):
        if any(part in IGNORED_DIRS or part == ".tmp" for part in entry.relative_to(base).parts):
            continue
        if entry.is_file():
            lines.append(f"{env.workspace.relative(entry)}  ({entry.stat().st_size} bytes)")
        if len(lines) >= LIST_LIMIT:
            lines.append(f"[... stopped at {LIST_LIMIT} files]")
            break
    return "\n".join(lines) if lines else "(no files yet)", []


async def search_files(a: SearchArgs, env: Env) -> tuple[str, list[str]]:
    base = env.workspace.resolve(a.path, must_exist=True)
    try:
        rx = re.compile(a.pattern)
    except re.error:
        rx = re.compile(re.escape(a.pattern))
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    hits: list[str] = []
    for path in files:
        if any(part in IGNORED_DIRS for part in path.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if rx.search(line):
                hits.append(f"{env.workspace.relative(path)}:{number}: {line.strip()[:200]}")
                if len(hits) >= SEARCH_LIMIT:
                    return "\n".join([*hits, f"[... stopped at {SEARCH_LIMIT} matches]"]), []
    return "\n".join(hits) if hits else f"no match for {a.pattern!r}", []


async def run_shell(a: CommandArgs, env: Env) -> tuple[str, list[str]]:
    root = env.workspace.ensure()
    before = env.workspace.snapshot()
    result = await run_command(
        a.command, root, timeout=a.timeout, allow_network=env.shell_network, protect=env.protect
    )
    written = [p for p in Workspace.changed(before, env.workspace.snapshot()) if not p.startswith(".tmp/")]
    if result.timed_out:
        raise ToolError(
            f"command timed out after {a.timeout:g}s and was killed; output so far:\n{result.output}"
        )
    tail = "\n[output truncated]" if result.truncated else ""
    notes = f" ({'; '.join(result.notes)})" if result.notes else ""
    return f"exit code {result.exit_code}{notes}\n{result.output}{tail}", written


async def fetch_url(a: FetchArgs, env: Env) -> tuple[str, list[str]]:
    if not env.allow_network:
        raise ToolError("fetch_url is off: Podium is running offline")
    import urllib.error
    import urllib.request

    def get() -> str:
        req = urllib.request.Request(a.url, headers={"User-Agent": "podium"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                data = resp.read(FETCH_LIMIT + 1)
                charset = resp.headers.get_content_charset() or "utf-8"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ToolError(f"could not fetch {a.url}: {exc}") from None
        text = data[:FETCH_LIMIT].decode(charset, errors="replace")
        text = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
        text = re.sub(r"[ \t]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()
        return text + ("\n[truncated]" if len(data) > FETCH_LIMIT else "")

    return await asyncio.to_thread(get), []


async def memory_search(a: MemoryArgs, env: Env) -> tuple[str, list[str]]:
    if env.memory is None:
        raise ToolError("memory search is not available in this run")
    items = await env.memory.recall_for(agent=env.ctx.agent, text=a.query, execution_id=env.ctx.execution_id)
    if not items:
        return "nothing relevant remembered", []
    return "\n".join(f"- ({item.kind}, {item.score:.2f}) {item.text}" for item in items), []


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "read_file",
            "Read a text file from the run's workspace.",
            ReadArgs,
            read_file,
            Policy.ALWAYS,
            "files",
        ),
        Builtin(
            "write_file",
            "Write (or append to) a text file in the run's workspace.",
            WriteArgs,
            write_file,
            Policy.ALWAYS,
            "files",
        ),
        Builtin(
            "list_files",
            "List the files in the run's workspace (or a folder of it).",
            ListArgs,
            list_files,
            Policy.ALWAYS,
            "files",
        ),
        Builtin(
            "search_files",
            "Search the workspace's text files for a pattern; returns path:line: text.",
            SearchArgs,
            search_files,
            Policy.ALWAYS,
            "files",
        ),
        Builtin(
            "run_command",
            "Run a shell command in the workspace (e.g. `python -m pytest -q`). "
            "No network; only the workspace is writable; returns the exit code and output.",
            CommandArgs,
            run_shell,
            Policy.ASK,
            "shell",
        ),
        Builtin(
            "fetch_url",
            "Fetch a web page or file by URL and return its text.",
            FetchArgs,
            fetch_url,
            Policy.ASK,
            "web",
        ),
        Builtin(
            "memory_search",
            "Recall what the team learned before (facts, lessons, past outputs).",
            MemoryArgs,
            memory_search,
            Policy.ALWAYS,
            "memory",
        ),
    )
}


@functools.cache
def schema_of(args: type[BaseModel]) -> dict[str, Any]:
    """A compact JSON schema (no titles) for the model (cached: callers must not mutate it)."""
    schema = args.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema["additionalProperties"] = False
    return schema
