"""Theme files: TOML or YAML, shipped in the package (podium/themes/) and from the user's config dir.

A file that does not parse or validate is reported (file + reason) and
skipped; the app then falls back to the next theme that did load.
"""

from __future__ import annotations

import os
import tomllib
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

from podium.config import user_config_dir

DEFAULT_THEME = "podium-dark"
SUFFIXES = (".toml", ".yaml", ".yml")


class ThemeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    primary: str
    dark: bool = True
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("primary", "secondary", "accent", "warning", "error", "success", "foreground",
                     "background", "surface", "panel", "boost")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Color.parse(value)
            except ColorParseError:
                raise ValueError(f"{value!r} is not a colour") from None
        return value

    def to_theme(self) -> Theme:
        return Theme(**self.model_dump())


def shipped_themes_dir() -> Traversable:
    """The themes that ship inside the package (package data, found wherever podium is installed)."""
    return files("podium") / "themes"


def theme_dirs() -> list[Path | Traversable]:
    """Shipped themes first, then the user's (which may override by name)."""
    dirs: list[Path | Traversable] = []
    override = os.environ.get("PODIUM_THEMES_DIR")
    if override:
        dirs.append(Path(override))
    dirs.append(shipped_themes_dir())
    dirs.append(user_config_dir() / "themes")
    return dirs


def load_theme_file(path: Path | Traversable) -> Theme:
    """Parse one theme file; raises ValueError with a one-line reason."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it ({exc})") from None
    try:
        if Path(path.name).suffix == ".toml":
            data = tomllib.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except Exception as exc:  # tomllib/yaml raise their own error families
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"does not parse: {reason}") from None
    if not isinstance(data, dict):
        raise ValueError("is not a table of theme settings")
    data.setdefault("name", Path(path.name).stem)
    try:
        return ThemeFile.model_validate(data).to_theme()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "theme"
        raise ValueError(f"{where}: {first['msg']}") from None


def load_themes(dirs: list[Path | Traversable] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme that loads, and one message per file that did not."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in dirs if dirs is not None else theme_dirs():
        if not folder.is_dir():
            continue
        for path in sorted((p for p in folder.iterdir() if Path(p.name).suffix in SUFFIXES),
                           key=lambda p: p.name):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                problems.append(f"theme file {path} skipped: {exc}")
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
