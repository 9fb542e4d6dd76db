"""``jupyter uvkernel doctor``: each finding, produced by the real condition, with its fix.

The doctor runs with an environment of its own (HOME, PATH, UV_CACHE_DIR, CONDA_*), so each
test sets up exactly the machine it describes: in this process through the console script's
entry point, with os.environ swapped for the call (no interpreter start-up per run). Where
root's privileges would hide a problem (an unreadable root, a read-only kernelspec dir), it
runs as ``python -m jupyter_uv_kernels.cli`` in a user namespace without CAP_DAC_OVERRIDE
(``unshare -U``), where permission bits apply to it; the stale-kernels test runs ``install``
and ``refresh`` that way too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UV, make_project, make_venv, run_cli_in_process
from tests.reliability.figures import record

CHECKED: set[str] = set()


def doctor(
    root: Path,
    *args: str,
    env: dict[str, str | None] | None = None,
    unprivileged: bool = False,
    json_output: bool = True,
) -> tuple[int, dict[str, dict[str, Any]], str]:
    """Run ``jupyter uvkernel doctor`` on ``root``; returns (exit code, findings by check,
    stdout). Every finding that is not ok must come with a fix."""
    cli_args = ["doctor", "--root", str(root), *args]
    if json_output:
        cli_args.append("--json")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_")}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    if unprivileged and os.geteuid() == 0:
        argv = ["unshare", "-U", sys.executable, "-m", "jupyter_uv_kernels.cli", *cli_args]
        proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=120)
    else:
        proc = run_cli_in_process(cli_args, env=full_env)
    assert "Traceback" not in proc.stderr, proc.stderr
    if not json_output:
        return proc.returncode, {}, proc.stdout
    report = json.loads(proc.stdout)
    findings: dict[str, dict[str, Any]] = {}
    for f in report["findings"]:
        if f["level"] != "ok":
            assert f["fix"], f"{f['check']} has no fix: {f}"
        findings.setdefault(f["check"], f)
        CHECKED.add(f"{f['check']}: {f['level']}")
    assert report["ok"] == (proc.returncode == 0)
    record("doctor", findings_exercised=len(CHECKED))
    return proc.returncode, findings, proc.stdout


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = Path(os.path.realpath(tmp_path)) / "root"
    path.mkdir()
    return path


def uv_version() -> str:
    return subprocess.run([UV, "--version"], capture_output=True, text=True).stdout.strip()


def test_given_uv_when_doctor_runs_then_it_is_found_and_its_version_and_source_named(
    root: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy2(UV, bin_dir / "uv")
    empty = tmp_path / "empty"
    empty.mkdir()
    version = uv_version()
    # on PATH (after `module load uv`)
    code, found, _ = doctor(root, env={"PATH": str(bin_dir)})
    assert code == 0 and found["uv"]["level"] == "ok"
    assert version in found["uv"]["message"] and "from PATH" in found["uv"]["message"]
    # not on PATH: the binary of the uv Python package
    code, found, _ = doctor(root, env={"PATH": str(empty)})
    assert version in found["uv"]["message"]
    assert "the uv Python package" in found["uv"]["message"]
    # configured
    code, found, _ = doctor(root, f"--UvKernels.uv={bin_dir / 'uv'}", env={"PATH": str(empty)})
    assert "from UvKernels.uv" in found["uv"]["message"] and str(bin_dir) in found["uv"]["message"]


def test_given_no_uv_when_doctor_runs_then_an_error_with_its_fix_and_exit_1(
    root: Path, tmp_path: Path
) -> None:
    code, found, _ = doctor(root, f"--UvKernels.uv={tmp_path / 'gone' / 'uv'}")
    assert code == 1
    assert (
        found["uv"]["level"] == "error" and str(tmp_path / "gone" / "uv") in found["uv"]["message"]
    )
    assert "uv" in found["uv"]["fix"]
    # and the plain-text report says the same, with the fix on its own line
    code, _, text = doctor(root, f"--UvKernels.uv={tmp_path / 'gone' / 'uv'}", json_output=False)
    assert code == 1 and "[FAIL] uv:" in text and "fix: " in text


def test_given_a_cache_under_home_then_a_warning_names_the_quota_and_the_fix(
    root: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env: dict[str, str | None] = {"HOME": str(home), "UV_CACHE_DIR": None, "XDG_CACHE_HOME": None}
    code, found, _ = doctor(root, env=env)
    cache = found["uv cache"]
    assert code == 0 and cache["level"] == "warning"
    assert str(home / ".cache" / "uv") in cache["message"] and "quota" in cache["message"]
    assert "UV_CACHE_DIR=" in cache["fix"]
    # a cache outside $HOME, on the roots' filesystem: nothing to say
    env["UV_CACHE_DIR"] = str(tmp_path / "scratch-cache")
    code, found, _ = doctor(root, env=env)
    assert found["uv cache"]["level"] == "ok" and "uv cache filesystem" not in found


def test_given_a_cache_on_another_filesystem_than_the_roots_then_a_warning(root: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(root).st_dev:
        pytest.skip("needs a tmpfs at /dev/shm on another filesystem than the tmp dir")
    cache = shm / f"uvk-doctor-{os.getpid()}"
    code, found, _ = doctor(root, env={"UV_CACHE_DIR": str(cache)})
    assert code == 0
    other = found["uv cache filesystem"]
    assert other["level"] == "warning" and str(root) in other["message"]
    assert "hardlink" in other["message"] and "UV_CACHE_DIR" in other["fix"]
    assert not cache.exists(), "the doctor must not create the cache"


def test_given_an_active_conda_env_then_a_warning_with_the_fix(root: Path) -> None:
    code, found, _ = doctor(
        root, env={"CONDA_PREFIX": "/glade/u/apps/conda/envs/npl", "CONDA_SHLVL": "1"}
    )
    assert code == 0
    assert found["conda"]["level"] == "warning" and "npl" in found["conda"]["message"]
    assert found["conda"]["fix"].startswith("conda deactivate")
    _, found, _ = doctor(root)
    assert found["conda"]["level"] == "ok"


def test_given_environments_then_they_are_counted_by_status_and_broken_ones_named(
    root: Path,
) -> None:
    make_venv(root / "ready", "ipykernel")
    make_project(root / "no-kernel", "six")
    dangling = make_venv(root / "dangling")
    for name in ("python", "python3"):
        (dangling / "bin" / name).unlink()
        (dangling / "bin" / name).symlink_to("/nonexistent/python3.99")
    code, found, _ = doctor(root)
    assert code == 0
    message = found["environments"]["message"]
    assert f"3 environments under {root}" in message
    assert "1 broken, 1 needs-ipykernel, 1 ready" in message
    broken = found["broken environments"]
    assert broken["level"] == "warning" and str(dangling) in broken["message"]
    assert f"uv venv --clear {dangling}" in broken["fix"]


def test_given_missing_and_unreadable_roots_then_they_are_errors(
    root: Path, tmp_path: Path
) -> None:
    code, found, _ = doctor(tmp_path / "typo")
    assert code == 1 and found["root"]["level"] == "error"
    assert "does not exist" in found["root"]["message"] and "roots" in found["root"]["fix"]
    make_venv(root / "env")
    root.chmod(0)
    try:
        code, found, _ = doctor(root, unprivileged=True)
    finally:
        root.chmod(0o755)
    assert code == 1
    assert found["root"]["level"] == "error" and "not readable" in found["root"]["message"]
    assert found["root"]["fix"] == f"chmod u+rx {root}"


def test_given_an_unwritable_kernelspec_dir_then_an_error_with_the_fix(
    root: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    kernels.chmod(0o555)
    try:
        code, found, _ = doctor(root, f"--UvKernels.kernelspec_dir={kernels}", unprivileged=True)
    finally:
        kernels.chmod(0o755)
    assert code == 1
    finding = found["kernelspec dir"]
    assert finding["level"] == "error" and str(kernels) in finding["message"]
    assert finding["fix"].startswith(f"chmod u+w {kernels}")
    code, found, _ = doctor(root, f"--UvKernels.kernelspec_dir={kernels}")
    assert found["kernelspec dir"]["level"] == "ok"


def test_given_a_kernelspec_dir_outside_jupyters_search_path_then_a_warning(
    root: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "elsewhere" / "kernels"
    code, found, _ = doctor(root, f"--UvKernels.kernelspec_dir={kernels}")
    finding = found["kernelspec search path"]
    assert code == 0 and finding["level"] == "warning"
    assert finding["fix"].startswith(f"export JUPYTER_PATH={kernels.parent}")
    # the fix works
    code, found, _ = doctor(
        root, f"--UvKernels.kernelspec_dir={kernels}", env={"JUPYTER_PATH": str(kernels.parent)}
    )
    assert "kernelspec search path" not in found
    # and the default location is on the path
    _, found, _ = doctor(root)
    assert "kernelspec search path" not in found


def test_given_stale_kernelspecs_then_they_are_named_until_a_refresh(root: Path) -> None:
    venv = make_venv(root / "gone-soon", "ipykernel")
    cli = [sys.executable, "-m", "jupyter_uv_kernels.cli"]
    subprocess.run([*cli, "install", str(venv), "--root", str(root)], check=True, timeout=120)
    _, found, _ = doctor(root)
    assert "stale kernels" not in found
    shutil.rmtree(venv)
    code, found, _ = doctor(root)
    stale = found["stale kernels"]
    assert code == 0 and stale["level"] == "warning" and "uv-gone-soon-" in stale["message"]
    assert stale["fix"] == "jupyter uvkernel refresh"
    subprocess.run([*cli, "refresh", "--root", str(root)], check=True, timeout=120)
    _, found, _ = doctor(root)
    assert "stale kernels" not in found
