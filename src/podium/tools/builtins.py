"""Built-in tools: files in the run's workspace, a shell there, URL fetch, web search, claim checks,
image generation, memory search.

Each tool has a pydantic argument model (its JSON schema is what the model
sees) and an async implementation returning (text for the agent, workspace
paths it wrote).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podium.citations import CitedClaim, ClaimVerdict, SourceKind, check_claim, cited_sentences
from podium.domain import Usage
from podium.llm.images import GeneratedImage, ImageConfig, ImageError, generate_image
from podium.llm.images import estimate_cost as estimate_image_cost
from podium.llm.search import MAX_RESULTS, SearchConfig, SearchError, web_search
from podium.llm.types import BudgetExceeded, BudgetGuard
from podium.store.images import PROMPT_LIMIT, ImageLog
from podium.store.sources import NewSource, SourceRepository
from podium.tools.shell import DEFAULT_TIMEOUT, MAX_TIMEOUT, run_command
from podium.tools.types import Policy, ToolContext, ToolError
from podium.tools.workspace import IGNORED_DIRS, Workspace
from podium.tools.worktree_access import RepoAccess

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


class WebSearchArgs(_Args):
    query: str = Field(min_length=1, max_length=400, description="What to search the web for.")
    max_results: int = Field(default=5, ge=1, le=MAX_RESULTS, description="How many results to return.")


class CheckClaimsArgs(_Args):
    claims: list[CitedClaim] = Field(
        default_factory=list, max_length=20,
        description="Claims to check, each with the source id it cites (S3) and, if it has one, a quote.")
    text: str | None = Field(
        default=None, max_length=20_000,
        description="Or a passage: each of its sentences that cites [S#] is checked against those sources.")


class ImageArgs(_Args):
    prompt: str = Field(min_length=1, max_length=PROMPT_LIMIT,
                        description="What the image shows: subject, style, composition, colours, any text.")
    path: str = Field(pattern=r"(?i)^[^\x00]+\.png$",
                      description="Where to save it: a .png path relative to the workspace, "
                                  "e.g. images/cover.png.")
    size: str | None = Field(default=None, pattern=r"^(auto|\d{2,5}x\d{2,5})$",
                             description="WIDTHxHEIGHT, e.g. 1024x1024 (the sizes the model takes); "
                                         "omit for its default.")


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
    # A worktree of the user's repository: its git folder, which the shell's box lets commands
    # read so that git works there; None for any other workspace.
    repo: RepoAccess | None = None
    memory: Any = None
    search: SearchConfig | None = None  # the web_search provider (None: no search configured)
    sources: SourceRepository | None = None  # where what web tools read is recorded
    image: ImageConfig | None = None  # the generate_image model (None: no image model configured)
    images: ImageLog | None = None  # where the images made (path, prompt, model) are recorded
    spent_usd: float = 0.0  # what this call spent on a paid model (set by generate_image)


Impl = Callable[[Any, Env], Awaitable[tuple[str, list[str]]]]


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    args: type[_Args]
    impl: Impl
    policy: Policy
    group: str
    # Offered only to agents whose `tools` list names it (or its group): an empty list, which
    # means "every tool", leaves it out.
    opt_in: bool = False


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
    repo = env.repo
    result = await run_command(
        a.command, root, timeout=a.timeout, allow_network=env.shell_network, protect=env.protect,
        read=repo.read if repo else (),
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

    def get() -> tuple[str, str, bool]:
        req = urllib.request.Request(a.url, headers={"User-Agent": "podium"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                data = resp.read(FETCH_LIMIT + 1)
                charset = resp.headers.get_content_charset() or "utf-8"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ToolError(f"could not fetch {a.url}: {exc}") from None
        text = data[:FETCH_LIMIT].decode(charset, errors="replace")
        found = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
        title = " ".join(html.unescape(found.group(1)).split())[:200] if found else ""
        text = re.sub(r"(?s)<(script|style|title)[^>]*>.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        text = re.sub(r"[ \t]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()
        return title, text, len(data) > FETCH_LIMIT

    title, text, truncated = await asyncio.to_thread(get)
    more = "\n[truncated]" if truncated else ""
    recorded = await _record(env, [NewSource(SourceKind.PAGE, a.url, title, text)])
    if not recorded:
        return text + more, []
    source = recorded[0]
    head = f"[{source.id}] {title or a.url} — {a.url}"
    return f"{head}\n\n{text}{more}\n\n(Cite this page as [{source.id}].)", []


async def _record(env: Env, items: list[NewSource]) -> list[Any]:
    """What a web tool read, as sources of the calling subtask (none outside a run)."""
    if env.sources is None:
        return []
    return await env.sources.record(env.ctx.execution_id, subtask_id=env.ctx.subtask_id, agent=env.ctx.agent,
                                    items=items)


async def search_web(a: WebSearchArgs, env: Env) -> tuple[str, list[str]]:
    if not env.allow_network:
        raise ToolError("web_search is off: Podium is running offline")
    if env.search is None:
        raise ToolError("web_search is off: no search provider is configured (search = ... in podium.toml)")
    try:
        hits = await web_search(env.search, a.query, a.max_results)
    except SearchError as exc:
        raise ToolError(str(exc)) from None
    if not hits:
        return f"no results for {a.query!r} (via {env.search.provider})", []
    recorded = await _record(env, [
        NewSource(SourceKind.SEARCH, h.url, h.title, f"{h.title}\n{h.snippet}".strip(), query=a.query,
                  provider=env.search.provider) for h in hits])
    lines = [f"Results for {a.query!r} (via {env.search.provider})."
             + (" Cite a result by its id, e.g. [S1]; fetch_url reads a page in full." if recorded else "")]
    for i, h in enumerate(hits):
        label = f"[{recorded[i].id}]" if recorded else f"{i + 1}."
        date = f" ({h.date})" if h.date else ""
        snippet = " ".join(h.snippet.split())[:400]
        lines.append(f"{label} {h.title or h.url}{date}\n    {h.url}\n    {snippet}")
    return "\n".join(lines), []


async def check_claims(a: CheckClaimsArgs, env: Env) -> tuple[str, list[str]]:
    claims = list(a.claims) + (cited_sentences(a.text) if a.text else [])
    if not claims:
        raise ToolError("nothing to check: give claims (claim, source, quote?) or a text that cites [S#]")
    if env.sources is None or env.ctx.execution_id is None:
        raise ToolError("check_claims works inside a run: there are no recorded sources here")
    recorded = {s.number: s for s in await env.sources.for_run(env.ctx.execution_id)}
    checks = [check_claim(c, recorded) for c in claims]
    await env.sources.record_checks(env.ctx.execution_id, subtask_id=env.ctx.subtask_id, agent=env.ctx.agent,
                                    checks=checks)
    counts = {v: sum(c.verdict is v for c in checks) for v in ClaimVerdict}
    lines = [f"{len(checks)} claim{'s' if len(checks) != 1 else ''} checked against the recorded sources: "
             f"{counts[ClaimVerdict.SUPPORTED]} supported, {counts[ClaimVerdict.UNSUPPORTED]} unsupported, "
             f"{counts[ClaimVerdict.NOT_FOUND]} not found."]
    for c in checks:
        label = {ClaimVerdict.SUPPORTED: "supported", ClaimVerdict.UNSUPPORTED: "UNSUPPORTED",
                 ClaimVerdict.NOT_FOUND: "NOT FOUND (never recorded: a fabricated or mistyped citation)"}
        lines.append(f"- [{c.source}] {label[c.verdict]}: {c.claim[:200]}\n    {c.evidence[:300]}")
    return "\n".join(lines), []


async def make_image(a: ImageArgs, env: Env) -> tuple[str, list[str]]:
    if not env.allow_network:
        raise ToolError("generate_image is off: Podium is running offline")
    if env.image is None:
        raise ToolError("generate_image is off: no image model is configured "
                        "(image_model = ... in podium.toml)")
    target = env.workspace.resolve(a.path)  # refused before any money is spent on an image
    if target.is_dir():
        raise ToolError(f"{a.path} is a folder")
    made = await _paid_image(a, env, env.image)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(made.png)
    rel = env.workspace.relative(target)
    if env.images is not None:
        await env.images.record(env.ctx.execution_id, subtask_id=env.ctx.subtask_id, agent=env.ctx.agent,
                                path=rel, prompt=a.prompt, model=made.model, size=a.size,
                                data_size=len(made.png), sha256=hashlib.sha256(made.png).hexdigest(),
                                revised_prompt=made.revised_prompt)
    dims = _png_size(made.png)
    shape = f", {dims[0]}x{dims[1]}" if dims else ""
    revised = f"\nThe model rewrote the prompt as: {made.revised_prompt[:500]}" if made.revised_prompt else ""
    return (f"image saved to {rel} (PNG{shape}, {len(made.png)} bytes, {made.model}). "
            f"Refer to it by this path.{revised}"), [rel]


async def _paid_image(a: ImageArgs, env: Env, config: ImageConfig) -> GeneratedImage:
    """One image, checked against the run's budget before it is asked for (its price by litellm's
    price map) and counted in it afterwards (what litellm says it cost), as a chat call is."""
    guard: BudgetGuard | None = env.ctx.guard
    if guard is None:  # not in a run (`podium tools call`): no budget to keep
        try:
            made = await generate_image(config, a.prompt, a.size)
        except ImageError as exc:
            raise ToolError(str(exc)) from None
        env.spent_usd += made.cost_usd
        return made
    estimate = await estimate_image_cost(config, a.size)
    try:
        async with guard.reserve(0, estimate) as slot:
            try:
                made = await generate_image(config, a.prompt, a.size)
            except ImageError as exc:
                raise ToolError(str(exc)) from None
            slot.record(Usage(cost_usd=made.cost_usd, calls=1))
    except BudgetExceeded as exc:
        limit = guard.budget.usd
        price = f"about ${estimate:.3f}" if estimate else "its price"
        spent = f" (${guard.usage.cost_usd:.3f} spent of ${limit:g})" if limit is not None else ""
        raise ToolError(f"generate_image was not called: this image ({price}, {config.model}) would go "
                        f"over the run's budget{spent}: {exc}. No image was made; do without it, or "
                        "ask the person to raise the budget") from None
    env.spent_usd += made.cost_usd
    return made


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


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
            "Fetch a web page or file by URL and return its text (recorded as a source with an id to cite).",
            FetchArgs,
            fetch_url,
            Policy.ASK,
            "web",
        ),
        Builtin(
            "web_search",
            "Search the web; each result is recorded as a source with an id ([S1]) to cite.",
            WebSearchArgs,
            search_web,
            Policy.ALWAYS,  # only offered once a person configured a search provider
            "web",
        ),
        Builtin(
            "check_claims",
            "Check cited claims against the recorded text of the sources they cite: each is "
            "supported, unsupported, or not found (a source id this run never recorded).",
            CheckClaimsArgs,
            check_claims,
            Policy.ALWAYS,
            "claims",
            opt_in=True,
        ),
        Builtin(
            "generate_image",
            "Make an image from a text prompt and save it as a PNG in the workspace (the prompt is recorded "
            "with it).",
            ImageArgs,
            make_image,
            Policy.ALWAYS,  # only offered once a person configured an image model, and to agents allowed it
            "images",
            opt_in=True,  # each image costs money: the media agent's, or any agent whose tools name it
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
