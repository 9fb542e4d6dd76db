"""``jupyter uvkernel add`` and ``create -r FILE / --index NAME``: the CLI (in process) and
real uv, the same domain calls as the REST API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import in_sync, make_project, make_venv, project_files, uv

from .conftest import run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MIRROR = "https://pypi.org/simple"


def installed(venv: Path) -> dict[str, str]:
    out = uv("pip", "list", "--python", str(venv / "bin/python"), "--format", "json").stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


def test_given_a_project_when_added_from_a_file_and_an_index_then_pyproject_records_both(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    project = make_project(root / "proj")
    (root / "requirements.txt").write_text("six==1.15.0  # pinned for the paper\n")
    proc = run_cli("add", str(project), "-r", str(root / "requirements.txt"), "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "Resolved" in proc.stderr  # uv's progress streamed, as for the other commands
    with open(project / "pyproject.toml", "rb") as f:
        assert "six==1.15.0" in tomllib.load(f)["project"]["dependencies"]

    proc = run_cli(
        "add", str(project), "idna==3.4", "--index", "mirror", "--root", str(root),
        "--UvKernels.indexes", f"mirror={MIRROR}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with open(project / "pyproject.toml", "rb") as f:
        uv_table = tomllib.load(f)["tool"]["uv"]
    assert {"name": "mirror", "url": MIRROR} in uv_table["index"]
    assert uv_table["sources"]["idna"] == {"index": "mirror"}
    assert installed(project / ".venv")["idna"] == "3.4" and in_sync(project)


def test_given_bad_requests_when_added_then_one_line_errors_and_nothing_changes(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    project = make_project(root / "proj")
    (root / "evil.txt").write_text("six\n\n--extra-index-url https://evil.example/simple\n")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("six\n")
    before = project_files(project)
    cases = [
        (["-r", str(root / "evil.txt")], "evil.txt line 3"),
        (["-r", str(outside)], f"--root {tmp_path}"),
        ([], "name packages, a requirements file (-r FILE), or both"),
        (["six", "--index", "nope"], "Unknown index nope"),
        (["--find-links=/tmp"], "looks like a command-line option"),
    ]
    for args, expected in cases:
        proc = run_cli("add", str(project), *args, "--root", str(root))
        assert proc.returncode == 2, (args, proc.stderr)
        assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert project_files(project) == before


def test_given_a_requirements_file_when_a_venv_is_created_then_it_is_installed_after_ipykernel(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "requirements.txt").write_text("six==1.15.0\niniconfig\n")
    proc = run_cli(
        "create", "--venv", str(root / "env"), "-r", str(root / "requirements.txt"),
        "--root", str(root), "--UvKernels.compile_bytecode=False",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    have = installed(root / "env")
    assert have["six"] == "1.15.0" and "iniconfig" in have and "ipykernel" in have
    # a refused file makes nothing
    (root / "nested.txt").write_text("-c constraints.txt\nsix\n")
    proc = run_cli("create", str(root / "p"), "-r", str(root / "nested.txt"), "--root", str(root))
    assert proc.returncode == 2 and "nested.txt line 1" in proc.stderr
    assert not (root / "p").exists()


def test_given_a_project_and_a_venv_when_packages_are_uninstalled_then_uv_removes_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    # A project: uv remove takes six out of pyproject.toml, the lock and the venv
    project = make_project(root / "proj", "six", "idna")
    proc = run_cli("uninstall", str(project), "six", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    with open(project / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    assert not any(d.startswith("six") for d in deps) and any(d.startswith("idna") for d in deps)
    assert "six" not in installed(project / ".venv") and in_sync(project)
    # A venv: a package another one needs is refused with the reason and stays, then --force
    venv = make_venv(root / "venv", "requests")
    refused = run_cli("uninstall", str(venv), "idna", "--root", str(root))
    assert refused.returncode != 0
    assert "required by requests" in refused.stderr and "force" in refused.stderr
    assert "idna" in installed(venv)
    proc = run_cli("uninstall", str(venv), "idna", "--force", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "idna" not in installed(venv) and "requests" in installed(venv)
    # A package the project does not list: one line, nothing changed
    before = (project / "pyproject.toml").read_bytes()
    missing = run_cli("uninstall", str(project), "numpy", "--root", str(root))
    error = missing.stderr.strip().splitlines()[-1]
    assert missing.returncode == 2 and error.startswith("jupyter uvkernel uninstall: error:")
    assert "numpy is not a dependency" in error and "Traceback" not in missing.stderr
    assert (project / "pyproject.toml").read_bytes() == before
