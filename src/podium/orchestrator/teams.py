"""Teams: the built-in presets and user teams from TOML files.

A user team is one TOML file per team, in `<config dir>/teams/*.toml` or
`./teams/*.toml` next to the project. The file name is the default team
name; a project team overrides a user team of the same name, which
overrides a preset. Example:

    name = "legal"                 # optional, defaults to the file name
    description = "Contract review"
    leader = "partner"
    model = "openai/gpt-4o-mini"   # optional, for every agent without its own

    [[agents]]
    name = "partner"
    role = "senior partner who plans and signs off"
    persona = "Careful, concise."
    skills = ["contract law"]

    [[agents]]
    name = "associate"
    role = "associate who drafts"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from podium.config import user_config_dir
from podium.domain import Agent, Team
from podium.errors import PodiumError


def _agent(name: str, role: str, persona: str, *skills: str, tools: tuple[str, ...] = ()) -> Agent:
    return Agent(name=name, role=role, persona=persona, skills=list(skills), tools=list(tools))


# Agent order matters for the fallback plan: the first agent gathers, the
# middle ones work from it in parallel, the last one assembles.
PRESETS: dict[str, Team] = {
    team.name: team
    for team in [
        Team(
            name="research",
            description="Investigate a question and write a sourced report.",
            leader="analyst",
            agents=[
                _agent("researcher", "researcher who finds and summarises sources",
                       "Thorough and curious; always notes where a fact comes from.",
                       "literature search", "source evaluation", "summarising"),
                _agent("analyst", "lead analyst who plans the work and draws conclusions",
                       "Structured and quantitative; turns findings into clear comparisons.",
                       "planning", "quantitative analysis", "comparison"),
                _agent("fact-checker", "fact-checker who verifies claims and figures",
                       "Sceptical and precise; flags anything unsupported.",
                       "verification", "citations", "consistency checks",
                       # check_claims is opt-in: it checks cited claims against the recorded sources.
                       tools=("files", "web", "memory", "mcp", "check_claims")),
                _agent("writer", "writer who turns findings into a readable report",
                       "Plain, direct prose for a non-specialist reader.",
                       "report writing", "editing", "structure"),
            ],
        ),
        Team(
            name="software",
            description="Design, build, test and document a piece of software.",
            leader="architect",
            agents=[
                _agent("architect", "software architect who plans the design",
                       "Pragmatic; prefers small modules with one job and clear interfaces.",
                       "system design", "interfaces", "planning"),
                _agent("developer", "developer who writes the code",
                       "Writes clear, typed, tested code; no cleverness without need.",
                       "Python", "implementation", "refactoring"),
                _agent("tester", "tester who writes and runs tests",
                       "Thinks in edge cases and failure modes.",
                       "unit tests", "integration tests", "bug reports"),
                _agent("documenter", "technical writer who documents the result",
                       "Explains usage first, internals second.",
                       "README", "API docs", "examples"),
            ],
        ),
        Team(
            name="content",
            description="Plan, write, edit and illustrate a piece of content.",
            leader="strategist",
            agents=[
                _agent("strategist", "content strategist who sets goals, audience and plan",
                       "Audience-first; every piece has one job.",
                       "audience analysis", "messaging", "planning"),
                _agent("writer", "writer who drafts the content",
                       "Vivid but plain; short sentences.",
                       "copywriting", "storytelling", "drafting"),
                _agent("media", "media producer who proposes images, video and layout",
                       "Visual thinker; describes assets precisely enough to produce them.",
                       "image briefs", "layout", "accessibility",
                       # generate_image is opt-in (each image costs money): offered when an image model
                       # is configured (image_model in podium.toml).
                       tools=("files", "web", "memory", "mcp", "images")),
                _agent("editor", "editor who tightens and checks the final piece",
                       "Cuts ruthlessly; checks facts, tone and consistency.",
                       "editing", "proofreading", "style guides"),
            ],
        ),
    ]
}


@dataclass(frozen=True)
class TeamEntry:
    team: Team
    source: str  # "built-in" or the file it came from


def team_dirs(project: Path | None = None) -> list[Path]:
    """Where user teams live, lowest precedence first."""
    base = (project.parent if project else Path.cwd()).resolve()
    return [user_config_dir() / "teams", base / "teams"]


def load_team_file(path: Path) -> Team:
    """Parse and validate one team file; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PodiumError(f"cannot read team file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PodiumError(f"team file {path} is not valid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    try:
        return Team.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'team'}: {e['msg']}" for e in exc.errors()
        )
        raise PodiumError(f"team file {path} is invalid: {problems}") from None


def all_teams(project: Path | None = None) -> dict[str, TeamEntry]:
    """Built-in presets overlaid by user teams, then project teams."""
    teams = {name: TeamEntry(team, "built-in") for name, team in PRESETS.items()}
    for folder in team_dirs(project):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            team = load_team_file(path)
            teams[team.name] = TeamEntry(team, str(path))
    return teams


def get_team(name: str, project: Path | None = None) -> Team:
    teams = all_teams(project)
    if name not in teams:
        raise PodiumError(f"unknown team {name!r}; available: {', '.join(sorted(teams))}")
    return teams[name].team
