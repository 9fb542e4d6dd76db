"""``jupyter uvkernel`` end to end, on real uv.

``run_cli`` calls the console script's entry point in this process; the first test runs the
installed ``jupyter-uvkernel`` script itself, in a process of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import PYTHON, make_project, uv

from .conftest import run_cli


def kernels_dir(home: Path) -> Path:
    return home / ".local/share/jupyter/kernels"


def test_given_packages_when_a_project_is_created_then_its_env_is_ready_with_a_kernel(
    tmp_path: Path, hermetic_env: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    # The installed console script, as a user runs it.
    proc = run_cli(
        "create", str(root / "seasonal"), "--python", PYTHON, "six", "--root", str(root),
        console_script=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Resolved" in proc.stderr  # uv's progress was streamed
    listed = run_cli("list", "--json", "--root", str(root), console_script=True, check=True)
    listing = json.loads(listed.stdout)
    (env,) = listing["environments"]
    assert env["status"] == "ready" and env["kind"] == "project"
    assert env["kernel"] and (kernels_dir(hermetic_env) / env["kernel"] / "kernel.json").exists()
    assert "six" in (root / "seasonal" / "pyproject.toml").read_text()


def test_given_a_new_venv_when_listed_then_the_table_shows_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    proc = run_cli("create", "--venv", str(root / "py"), "six", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    table = run_cli("list", "--root", str(root), check=True).stdout
    assert "py" in table and "venv" in table and "ready" in table
    assert (root / "py" / "lib").exists()


def test_given_a_copy_without_venv_when_synced_then_the_lock_is_reproduced(tmp_path: Path) -> None:
    # A colleague's project: copy it without its .venv, as a git clone would.
    original = make_project(tmp_path / "theirs", "ipykernel", "six")
    mine = tmp_path / "mine"
    shutil.copytree(original, mine, ignore=shutil.ignore_patterns(".venv"))
    lock_before = (mine / "uv.lock").read_bytes()
    proc = run_cli("sync", str(mine))
    assert proc.returncode == 0, proc.stderr
    assert (mine / "uv.lock").read_bytes() == lock_before  # --frozen: the lock is the truth
    listed = uv("pip", "list", "--python", str(mine / ".venv/bin/python"), "--format", "json")
    theirs = uv("pip", "list", "--python", str(original / ".venv/bin/python"), "--format", "json")

    def pkgs(out: str) -> set[tuple[str, str]]:
        return {
            (p["name"], p["version"])
            for p in json.loads(out)
            if p["name"] not in ("theirs", "mine")
        }

    assert pkgs(listed.stdout) == pkgs(theirs.stdout)
    assert run_cli("sync", "--check", str(mine)).returncode == 0


def test_given_a_package_removed_by_hand_when_sync_check_runs_then_it_exits_1(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "proj", "six")
    assert run_cli("sync", "--check", str(project)).returncode == 0
    uv("pip", "uninstall", "--python", str(project / ".venv/bin/python"), "six")
    proc = run_cli("sync", "--check", str(project))
    assert proc.returncode == 1
    assert "six" in proc.stdout and "out of sync" in proc.stderr


def test_given_no_ipykernel_when_installed_then_it_is_a_dev_dependency_and_registered(
    tmp_path: Path, hermetic_env: Path
) -> None:
    project = make_project(tmp_path / "proj", "six")
    refused = run_cli("install", str(project), "--no-add-ipykernel")
    assert refused.returncode == 2 and "--no-add-ipykernel" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    proc = run_cli("install", str(project), "--name", "proj-k", "--display-name", "Proj K")
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((kernels_dir(hermetic_env) / "proj-k" / "kernel.json").read_text())
    assert spec["display_name"] == "Proj K"
    pyproject = (project / "pyproject.toml").read_text()
    assert (
        "[dependency-groups]" in pyproject
        and "ipykernel" in pyproject.split("[dependency-groups]")[1]
    )
    # remove by name takes it away again
    assert run_cli("remove", "proj-k").returncode == 0
    assert not (kernels_dir(hermetic_env) / "proj-k").exists()


def test_given_changes_on_disk_when_refreshed_then_it_prints_what_changed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_project(root / "p", "ipykernel")
    first = run_cli("refresh", "--root", str(root), check=True).stdout
    # the project's kernel, and uv-project and uv-script (kept for batch jobs) on the first run
    assert first.startswith("added") and "3 added" in first and "uv-project" in first
    assert "uv-script" in first
    second = run_cli("refresh", "--root", str(root), check=True).stdout
    assert "0 changes" in second
    shutil.rmtree(root / "p")
    third = run_cli("refresh", "--root", str(root), check=True).stdout
    assert third.startswith("removed") and "1 removed" in third


def test_given_bad_input_then_the_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "plain-dir").mkdir()
    for args in (
        ("sync", str(tmp_path / "missing")),
        ("install", str(tmp_path / "plain-dir")),
        ("sync", str(tmp_path / "plain-dir")),
        ("remove", "no-such-kernel"),
        ("create", str(tmp_path / "x"), "--python", "2.1", "--root", str(tmp_path)),
        ("create", str(tmp_path / "y"), "--index-url=http://evil"),
        # mistyped options and commands are named, never ignored
        ("list", "--jsn"),
        ("list", "--roots", str(tmp_path)),
        ("list", "extra-word"),
        ("lst",),
        (),
        ("list", "--root", str(tmp_path / "nonexistent")),
        # create stays inside the roots, as the REST API does
        ("create", "/etc/uv-kernels-test", "--root", str(tmp_path)),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        # one error line, last; at most a progress line before it; never a traceback
        assert "error:" in lines[-1] and len(lines) <= 2, args
        assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr, args
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert not Path("/etc/uv-kernels-test").exists()


def test_given_a_typo_then_the_error_suggests_the_option(tmp_path: Path) -> None:
    assert "did you mean --json?" in run_cli("list", "--jsn").stderr
    assert "did you mean --root?" in run_cli("list", "--roots", str(tmp_path)).stderr
    assert "unknown command 'lst'" in run_cli("lst").stderr


def test_given_top_level_help_then_it_shows_the_commands_and_root() -> None:
    text = run_cli("--help", check=True).stdout
    assert "--root DIR" in text
    for command in ("list", "install", "create", "sync", "doctor", "check"):
        assert f"\n  {command} " in text, command
    assert "--Application.log_level" not in text  # not traitlets' generic options


def test_given_a_clone_without_venv_when_checked_then_it_says_create_not_out_of_sync(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "root" / "clone", "six")
    shutil.rmtree(project / ".venv")
    done = run_cli("sync", "--check", str(project))
    assert done.returncode == 1
    assert "has no environment yet" in done.stderr and "out of sync" not in done.stderr
    assert f"jupyter uvkernel sync {project}" in done.stderr


def test_given_an_out_of_sync_project_when_checked_then_the_fix_is_named(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root" / "p", "six")
    uv("pip", "uninstall", "--python", str(project / ".venv/bin/python"), "six")
    done = run_cli("sync", "--check", str(project))
    assert done.returncode == 1
    assert f"`jupyter uvkernel sync {project}` (uv sync --frozen)" in done.stderr


def test_given_envs_that_need_the_user_then_doctor_warns_with_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    clone = make_project(root / "clone", "six")
    shutil.rmtree(clone / ".venv")
    ready = make_project(root / "ready", "ipykernel")
    report = json.loads(run_cli("doctor", "--json", "--root", str(root)).stdout)
    by_check = {f["check"]: f for f in report["findings"]}
    assert by_check["no environment"]["level"] == "warning"
    assert str(clone) in by_check["no environment"]["message"]
    assert by_check["no environment"]["fix"] == f"jupyter uvkernel sync {clone}"
    # never registered (no refresh ran): a ready env without a kernel
    assert str(ready) in by_check["no kernel"]["message"]
    assert by_check["no kernel"]["fix"].startswith(f"jupyter uvkernel install {ready}")


def test_given_errors_when_doctor_runs_then_it_reports_them_and_exits_nonzero(
    tmp_path: Path,
) -> None:
    ok = run_cli("doctor", "--json", "--root", str(tmp_path))
    report = json.loads(ok.stdout)
    assert ok.returncode == 0 and report["ok"]
    checks = {f["check"] for f in report["findings"]}
    assert {"uv", "uv cache", "conda", "environments", "kernelspec dir"} <= checks
    bad = run_cli("doctor", "--root", str(tmp_path / "nope"), "--UvKernels.uv=/nonexistent/uv")
    assert bad.returncode == 1
    assert "[FAIL] uv" in bad.stdout and "fix:" in bad.stdout


def test_given_the_readme_then_it_documents_every_setting_and_command() -> None:
    from jupyter_uv_kernels.cli import UvKernelApp
    from jupyter_uv_kernels.config import UvKernels

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for trait in UvKernels.class_own_traits(config=True):
        assert f"`{trait}`" in readme, trait
    for command in UvKernelApp.subcommands:
        assert f"jupyter uvkernel {command}" in readme, command


def test_given_a_read_only_root_when_create_needs_parent_folders_then_one_line_names_it(
    tmp_path: Path,
) -> None:
    # Root ignores permissions: the CLI runs in a user namespace (unshare -U) where it does not.
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o555)
    try:
        done = run_cli(
            "create", "--venv", str(root / "projects" / "2025" / "env"), "--root", str(root),
            unprivileged=True,
        )  # fmt: skip
    finally:
        root.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert "Cannot create the folder" in done.stderr and "Permission denied" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(root.iterdir()) == []
