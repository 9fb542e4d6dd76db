"""``jupyter uvkernel upgrade``, ``outdated`` and ``tree``: the CLI (in process), real uv."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, in_sync, make_project, make_venv, project_files, uv

from .conftest import run_cli


def newest(requirement: str, tmp: Path) -> str:
    """The version uv resolves ``requirement`` to on the index today."""
    source = tmp / "newest.in"
    source.write_text(requirement + "\n")
    out = uv(
        "pip", "compile", "-q", "--no-header", "--no-annotate", "--python", PYTHON, str(source)
    )
    return out.stdout.strip().split("==", 1)[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Any]:
    """A project with six locked at 1.15.0 under ``six>=1.15`` and a dev group, and a venv."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("cli-packages")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        project = make_project(base / "study", "six==1.15.0")
        uv("add", "--project", str(project), "--dev", "iniconfig")
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('"six==1.15.0"', '"six>=1.15"'))
        uv("lock", "--project", str(project))
        uv("sync", "--frozen", "--project", str(project))
        venv = make_venv(base / "tools", "six==1.15.0")
        six = newest("six", base)
    return {"base": base, "project": project, "venv": venv, "six": six}


def cli(built: dict[str, Any], *args: str) -> Any:
    return run_cli(*args, "--root", str(built["base"]), "--UvKernels.compile_bytecode=False")


def test_given_an_old_pin_when_outdated_then_the_table_and_json_show_latest_and_allowed(
    built: dict[str, Any],
) -> None:
    proc = cli(built, "outdated", str(built["project"]), "--json")
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    six = next(p for p in reply["packages"] if p["name"] == "six")
    assert six == {
        "name": "six",
        "installed": "1.15.0",
        "latest": built["six"],
        "allowed": built["six"],
        "direct": True,
    }
    assert "study" not in {p["name"] for p in reply["packages"]}
    table = cli(built, "outdated", str(built["venv"]))
    assert table.returncode == 0, table.stderr
    (row,) = [ln.split() for ln in table.stdout.splitlines() if ln.startswith("six ")]
    assert row == ["six", "1.15.0", built["six"], built["six"], "yes"]


def test_given_a_project_when_tree_then_groups_and_the_inverted_why(
    built: dict[str, Any],
) -> None:
    project = str(built["project"])
    proc = cli(built, "tree", project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "[main]" and "└── six v1.15.0" in lines
    dev = lines.index("[dev]")
    assert lines[dev + 1].startswith("└── iniconfig v")
    why = cli(built, "tree", project, "--invert", "six", "--json")
    assert why.returncode == 0, why.stderr
    (group,) = json.loads(why.stdout)["groups"]
    assert group["name"] == "required-by"
    assert [(n["name"], [d["name"] for d in n["dependencies"]]) for n in group["dependencies"]] == [
        ("six", ["study"])
    ]


def test_given_a_copy_of_a_project_when_upgraded_then_the_lock_moves_and_bad_names_exit_2(
    built: dict[str, Any],
) -> None:
    copy = built["base"] / "copy"
    shutil.copytree(built["project"], copy, ignore=shutil.ignore_patterns(".venv"))
    uv("sync", "--frozen", "--project", str(copy))
    before = project_files(copy)
    proc = cli(built, "upgrade", str(copy), "nosuchpkg")
    assert proc.returncode == 2 and "not a dependency" in proc.stderr, proc.stderr
    assert project_files(copy) == before
    proc = cli(built, "upgrade", str(copy), "six")
    assert proc.returncode == 0, proc.stderr
    assert f"Updated six v1.15.0 -> v{built['six']}" in proc.stderr  # uv's progress, streamed
    assert proc.stdout.strip() == f"Upgraded six 1.15.0 -> {built['six']}."
    assert f'name = "six"\nversion = "{built["six"]}"' in (copy / "uv.lock").read_text()
    assert in_sync(copy)


def test_given_a_venv_when_upgraded_without_names_then_everything_reaches_the_latest(
    built: dict[str, Any],
) -> None:
    venv = built["base"] / "tools-copy"
    make_venv(venv, "six==1.15.0")
    proc = cli(built, "upgrade", str(venv))
    assert proc.returncode == 0, proc.stderr
    listed = uv("pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json")
    assert {p["name"]: p["version"] for p in json.loads(listed.stdout)} == {"six": built["six"]}


def test_given_a_read_only_project_then_outdated_and_tree_work_but_upgrade_is_refused(
    built: dict[str, Any],
) -> None:
    # A group's shared env: root ignores permission bits, so the CLI runs under unshare -U.
    project = built["project"]
    before = project_files(project)
    project.chmod(0o555)
    try:
        base = ["--root", str(built["base"])]
        refused = run_cli("upgrade", str(project), "six", *base, unprivileged=True)
        outdated = run_cli("outdated", str(project), "--json", *base, unprivileged=True)
        tree = run_cli("tree", str(project), "--invert", "six", *base, unprivileged=True)
    finally:
        project.chmod(0o755)
    assert refused.returncode == 2 and "read-only" in refused.stderr, refused.stderr
    assert "copy" in refused.stderr
    assert outdated.returncode == 0, outdated.stderr
    assert "six" in {p["name"] for p in json.loads(outdated.stdout)["packages"]}
    assert tree.returncode == 0 and "[required-by]" in tree.stdout, tree.stderr
    assert project_files(project) == before
