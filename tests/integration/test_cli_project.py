"""init, info and export through the real `podium` command."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import run_cli


def test_version_is_fast_and_plain():
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("podium ")


def test_init_info_export_round_trip(tmp_path):
    assert run_cli("init", "p.podium").returncode == 0
    info = run_cli("info", "p.podium", "--json")
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert facts["integrity"] == "ok" and facts["runs"] == 0
    assert facts["sqlite_vec_version"].startswith("v")

    out = run_cli("export", "p.podium", "-o", "copy.podium")
    assert out.returncode == 0, out.stderr
    assert "integrity ok" in out.stdout
    assert not (tmp_path / "copy.podium-wal").exists()
    again = run_cli("export", "p.podium", "-o", "copy.podium")
    assert again.returncode == 2 and "--force" in again.stderr
    assert run_cli("export", "p.podium", "-o", "copy.podium", "--force").returncode == 0

    archive_info = run_cli("info", "copy.podium")
    assert archive_info.returncode == 0 and "schema      v" in archive_info.stdout


def test_project_option_and_env(tmp_path):
    assert run_cli("init", "--project", "a.podium").returncode == 0
    assert (tmp_path / "a.podium").exists()
    out = run_cli("info", env={"PODIUM_PROJECT": str(tmp_path / "a.podium")})
    assert out.returncode == 0 and "a.podium" in out.stdout


def test_bad_files_give_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("just text, not a project\n" * 20)
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    for name in ("notes.txt", "other.db", "missing.podium"):
        for command in (["info", name], ["export", name, "-o", "x.podium"]):
            out = run_cli(*command)
            assert out.returncode == 2, (command, out.stderr)
            assert "Traceback" not in out.stderr
            assert out.stderr.startswith("podium: error:") and out.stderr.count("\n") == 1
    assert not (tmp_path / "x.podium").exists()


def test_archive_never_holds_environment_secrets(tmp_path):
    secret = "sk-test-PLANTED-0123456789abcdef"
    env = {"OPENAI_API_KEY": secret, "ANTHROPIC_API_KEY": secret}
    assert run_cli("init", "p.podium", env=env).returncode == 0
    assert run_cli("export", "p.podium", "-o", "a.podium", env=env).returncode == 0
    for name in ("p.podium", "a.podium"):
        assert secret.encode() not in (tmp_path / name).read_bytes()


def test_mistyped_command_is_an_error_not_a_new_project(tmp_path):
    out = run_cli("rnu")
    assert out.returncode == 2
    assert "no command or project file 'rnu'" in out.stderr
    assert list(tmp_path.glob("rnu*")) == []


def test_usage_errors_are_a_message_and_exit_2_not_a_traceback(tmp_path):
    # Typer ships its own copy of click, whose exceptions are not click's own.
    for args in (["runs", "--bogus"], ["guide", "r1", "use metric units", "stray"], ["info", "a", "b", "c"]):
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and "Error:" in out.stderr, out.stderr
    assert not list(tmp_path.iterdir())  # nothing was created
