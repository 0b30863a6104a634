"""Podium installed from a wheel, without `-e`, into a new venv outside the repository.

The wheel is built from a copy of the repository (setuptools, the build
backend, comes from the package registry or pip's cache through pip's build
isolation) and installed with `--no-deps`; the heavy dependencies (litellm,
llama-cpp-python, ...) are borrowed from the test's own environment through a
`.pth` file, so the test takes seconds, not a from-source rebuild. What it
proves: the entry point works, `podium` is imported from the installed wheel
(not from src/), and the shipped themes are package data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from podium.tui.themes import SUFFIXES, load_theme_file
from tests.integration.run_helpers import write_script

# One wheel build and venv for the module: its tests stay on one xdist worker.
pytestmark = [pytest.mark.package_install, pytest.mark.xdist_group("package_install")]

REPO = Path(__file__).resolve().parents[2]
SHIPPED_THEMES = sorted(p for p in (REPO / "src" / "podium" / "themes").iterdir() if p.suffix in SUFFIXES)


@dataclass
class Installed:
    wheel: Path
    venv: Path
    site: Path
    work: Path
    env: dict[str, str]
    seconds: float

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env, cwd=self.work,
                              timeout=timeout)

    def podium(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "podium"), *args, timeout=timeout)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "python"), "-c", code)


def _step(args: list[str], what: str, **kwargs: object) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("package_install")
    assert not root.resolve().is_relative_to(REPO), "the install must happen outside the repository"
    started = time.monotonic()

    # Build from a copy, so the build's own files (build/, *.egg-info) never land in the work tree.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = root / "dist"
    _step([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
          "building the wheel")
    (wheel,) = dist.glob("podium-*.whl")

    venv = root / "venv"
    _step([sys.executable, "-m", "venv", "--without-pip", str(venv)], "creating the venv")
    python = venv / "bin" / "python"
    _step([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
           "--quiet", str(wheel)], "installing the wheel")
    site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    # The dependencies come from this environment's site-packages, appended after the venv's own, so
    # the installed podium wins. (Plain path lines: the editable install's .pth there is not processed.)
    borrowed = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "zz_podium_test_dependencies.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")

    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PODIUM_PROJECT", "PODIUM_THEMES_DIR"}}
    env |= {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "PODIUM_CONFIG_DIR": str(root / "config"), "PYTHONNOUSERSITE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}
    return Installed(wheel, venv, site, work, env, time.monotonic() - started)


def test_the_wheel_carries_every_shipped_theme(installed: Installed) -> None:
    assert SHIPPED_THEMES, "the repository ships no themes under src/podium/themes/"
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [p.name for p in SHIPPED_THEMES if f"podium/themes/{p.name}" not in names]
    assert not missing, f"theme files missing from the wheel: {missing}"
    metadata = zipfile.ZipFile(installed.wheel).read("podium-0.1.0.dist-info/METADATA").decode()
    for requirement in ("PyYAML", "httpx", "numpy", "click"):
        assert f"Requires-Dist: {requirement}" in metadata, requirement


def test_podium_is_imported_from_the_wheel_and_its_themes_load_there(installed: Installed) -> None:
    user_themes = Path(installed.env["PODIUM_CONFIG_DIR"]) / "themes"
    user_themes.mkdir(parents=True, exist_ok=True)
    (user_themes / "mine.yaml").write_text("name: mine\nprimary: '#ff0000'\n", encoding="utf-8")
    (user_themes / "podium-light.toml").write_text(
        'name = "podium-light"\nprimary = "#00ff00"\ndark = false\n', encoding="utf-8")
    probe = installed.python(
        "import json, podium\n"
        "from podium.tui.themes import load_themes, shipped_themes_dir\n"
        "shipped, shipped_problems = load_themes([shipped_themes_dir()])\n"
        "themes, problems = load_themes()\n"
        "print(json.dumps({'file': podium.__file__, 'shipped_dir': str(shipped_themes_dir()),\n"
        "  'shipped': [t.name for t in shipped], 'themes': {t.name: t.primary for t in themes},\n"
        "  'problems': shipped_problems + problems}))\n")
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["file"]).is_relative_to(installed.site), f"podium imported from {found['file']}"
    assert Path(found["shipped_dir"]).is_relative_to(installed.site), found["shipped_dir"]
    assert found["problems"] == []
    expected = {load_theme_file(p).name for p in SHIPPED_THEMES}
    assert set(found["shipped"]) == expected, f"shipped themes loaded: {found['shipped']}, not {expected}"
    # The user's themes are loaded too, and one with a shipped theme's name overrides it.
    assert found["themes"]["mine"] == "#ff0000" and found["themes"]["podium-light"] == "#00ff00"


def test_the_installed_command_runs(installed: Installed) -> None:
    version = installed.podium("--version")
    assert version.returncode == 0 and version.stdout.strip() == "podium 0.1.0", version.stderr

    teams = installed.podium("teams")
    assert teams.returncode == 0, teams.stderr
    assert all(name in teams.stdout for name in ("research", "software", "content")), teams.stdout

    model = write_script(installed.work)
    run = installed.podium("run", "Heat pumps", "--model", model, "--yes")
    assert run.returncode == 0, run.stderr
    assert "FINAL REPORT" in run.stdout and "completed" in run.stdout, run.stdout
    assert (installed.work / "project.podium").exists()
    print(f"wheel built and installed in {installed.seconds:.1f}s")
