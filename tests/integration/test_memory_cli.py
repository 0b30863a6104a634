"""`podium memory ...` and `podium bench memory` through the real command."""

from __future__ import annotations

import hashlib
import json

from tests.conftest import run_cli

FACT = "Our customers are mostly in Tromsø, Norway"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_list_search_forget(tmp_path):
    out = run_cli("memory", "add", FACT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "remembered #1 (fact, project)"
    assert run_cli("memory", "add", FACT.upper()).stdout.strip() == "already known as #1 (fact, project)"
    assert run_cli("memory", "add", "Cite NVE for electricity prices", "--agent", "analyst").returncode == 0

    listed = run_cli("memory", "list", "--json")
    assert [m["agent"] for m in json.loads(listed.stdout)] == ["analyst", None]
    only = run_cli("memory", "list", "--agent", "analyst")
    assert "Cite NVE" in only.stdout and "Tromsø" not in only.stdout

    found = run_cli("memory", "search", "heat pumps for Norwegian customers", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [h["text"] for h in hits] == [FACT] and hits[0]["score"] > 0
    table = run_cli("memory", "search", "electricity prices", "--agent", "analyst", "--k", "1")
    assert "Cite NVE" in table.stdout and "analyst" in table.stdout
    assert run_cli("memory", "search", "haiku about autumn leaves").stdout.strip() == "no relevant memories"

    gone = run_cli("memory", "forget", "1")
    assert gone.returncode == 0 and gone.stdout.startswith("forgot #1")
    again = run_cli("memory", "forget", "1")
    assert again.returncode == 2 and "no memory with id 1" in again.stderr and "Traceback" not in again.stderr


def test_user_errors_are_one_line(tmp_path):
    assert run_cli("memory", "add", "x").returncode == 0
    for args, message in [
        (("memory", "list", "--kind", "rumour"), "unknown kind"),
        (("memory", "search", "x", "--mode", "psychic"), "unknown mode"),
        (("memory", "add", "x", "--agent", "Bad Name"), "bad agent name"),
        (("memory", "search", "x", "--project", "missing.podium"), "does not exist"),
        (("memory", "add", "   "), "needs some text"),
    ]:
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_search_an_exported_archive_read_only(tmp_path):
    assert run_cli("memory", "add", FACT).returncode == 0
    assert run_cli("memory", "add", "The brand colour for every chart is dark teal").returncode == 0
    assert run_cli("export", "-o", "archive.podium").returncode == 0
    archive = tmp_path / "archive.podium"
    before = _sha(archive)

    found = run_cli("memory", "search", "customers in Norway", "--project", "archive.podium", "--json")
    assert found.returncode == 0, found.stderr
    assert [h["text"] for h in json.loads(found.stdout)] == [FACT]
    assert "dark teal" in run_cli("memory", "list", "--project", "archive.podium").stdout

    # Searching and listing open the file read-only: the archive is byte-for-byte unchanged.
    assert _sha(archive) == before
    assert not (tmp_path / "archive.podium-wal").exists()


def test_reembed_switches_the_embedder(tmp_path):
    assert run_cli("memory", "add", FACT, "--agent", "analyst").returncode == 0
    assert run_cli("memory", "add", "The brand colour for every chart is dark teal").returncode == 0
    out = run_cli("memory", "reembed", "--embedder", "hashed:128")
    assert out.returncode == 0, out.stderr
    assert "hashed (dim 128): 2 vectors" in out.stdout and "dropped hashed/384" in out.stdout
    info = run_cli("memory", "info", "--json")
    spaces = json.loads(info.stdout)["spaces"]
    got = [(s["embedder"], s["dim"], s["vectors"], s["active"]) for s in spaces]
    assert got == [("hashed", 128, 2, True)]
    hits = run_cli("memory", "search", "customers in Norway", "--agent", "analyst", "--json")
    assert [h["text"] for h in json.loads(hits.stdout)] == [FACT]

    script = tmp_path / "embed.toml"
    script.write_text("embedding_dim = 40\n")
    via_env = run_cli("memory", "reembed", env={"PODIUM_EMBEDDER": f"scripted:{script}"})
    assert via_env.returncode == 0, via_env.stderr
    assert "(dim 40)" in via_env.stdout
    assert run_cli("memory", "add", "Enova pays grants for heat pumps").returncode == 0
    info = json.loads(run_cli("memory", "info", "--json").stdout)
    assert [(s["dim"], s["vectors"]) for s in info["spaces"]] == [(40, 3)]


def test_bench_memory_prints_figures(tmp_path):
    out = run_cli("bench", "memory", "--sizes", "300", "--queries", "20", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "recall ms med/p95" in out.stdout and "found@3 float" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.strip().startswith("300"))
    assert len(row.split()) >= 7
