"""`podium doctor`: what works here and what does not, one line each."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.app import JsonOption, ProjectOption, app, print_json, project_path, run_async
from podium.cli.llm_cmds import ApiBaseOption, ModelOption

_MARK = {"ok": "✔", "warn": "!", "problem": "✘"}


@app.command()
def doctor(
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    no_local: Annotated[
        bool, typer.Option("--no-local", help="Skip loading the local model (and its speed test).")
    ] = False,
    json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Check the machine, the local model (in its worker), the model in use, the project file,
    the vault and the shell's network isolation. Exit 1 when something needed does not work."""
    from podium.app.diagnostics import run_checks

    report = run_async(
        run_checks(project_path(None, project), model=model, api_base=api_base, local=not no_local)
    )
    if json:
        print_json(report.model_dump())
    else:
        width = max(len(f.check) for f in report.findings)
        for finding in report.findings:
            print(f"{_MARK[finding.level]} {finding.check:<{width}}  {finding.summary}")
        problems = report.problems
        print(f"\n{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "\nall good")
    if report.problems:
        raise typer.Exit(1)
