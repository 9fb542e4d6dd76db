"""A tree shaped like /glade/work/$USER, built with real uv, shared by the unit tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import build_concurrently, make_project, make_venv, run_cli_in_process, uv

#: relpath -> (kind, status) that discovery must report for the tree below (max_depth=4).
EXPECTED = {
    "analysis": ("project", "ready"),
    "workspace": ("project", "ready"),
    "envs/uvvenv": ("venv", "ready"),
    "envs/plain": ("venv", "ready"),
    "locked-no-venv": ("project", "no-environment"),
    "no-ipykernel": ("project", "needs-ipykernel"),
    "envs/dangling": ("venv", "broken"),
    "Ünïcode proj": ("project", "needs-ipykernel"),
    "group a/dup": ("project", "ready"),
    "group b/dup": ("project", "ready"),
    "a/b/c/deep-enough": ("project", "needs-ipykernel"),
}
MAX_DEPTH = 4


def build_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)

    def workspace() -> None:
        # A workspace: one project, its members are not listed separately.
        ws = make_project(root / "workspace", "ipykernel")
        with open(ws / "pyproject.toml", "a") as f:
            f.write('\n[tool.uv.workspace]\nmembers = ["packages/*"]\n')
        for member in ("alpha", "beta"):
            uv("init", "--lib", "--vcs", "none", str(ws / "packages" / member))
        uv("lock", "--project", str(ws))
        uv("sync", "--project", str(ws))

    def plain_venv() -> None:
        # A plain (stdlib) venv with ipykernel.
        plain = make_venv(root / "envs" / "plain", plain=True)
        uv("pip", "install", "--python", str(plain / "bin" / "python"), "ipykernel")

    def locked_no_venv() -> None:
        # A colleague's project: uv.lock but no .venv yet.
        locked = make_project(root / "locked-no-venv", "six")
        shutil.rmtree(locked / ".venv")

    def dangling_venv() -> None:
        # A venv whose interpreter dangles (its base Python was removed).
        dangling = make_venv(root / "envs" / "dangling")
        for name in ("python", "python3"):
            (dangling / "bin" / name).unlink()
            (dangling / "bin" / name).symlink_to("/nonexistent/python3.99")

    # Each folder is built on its own, several at once (see build_concurrently).
    build_concurrently(
        # A project with ipykernel, as `uv init && uv add ipykernel` makes it.
        lambda: make_project(root / "analysis", "ipykernel"),
        workspace,
        # A uv venv with ipykernel.
        lambda: make_venv(root / "envs" / "uvvenv", "ipykernel"),
        plain_venv,
        locked_no_venv,
        # A project without ipykernel.
        lambda: make_project(root / "no-ipykernel", "six"),
        dangling_venv,
        # A venv hidden in node_modules: never listed.
        lambda: make_venv(root / "webapp" / "node_modules" / "pyenv"),
        # Unicode and space names, two projects with the same name.
        lambda: make_project(root / "Ünïcode proj", "six"),
        lambda: make_project(root / "group a" / "dup", "ipykernel"),
        lambda: make_project(root / "group b" / "dup", "ipykernel"),
        # Depth: a project at the limit is found, one below it is not.
        lambda: make_project(root / "a" / "b" / "c" / "deep-enough", sync=True),
        lambda: make_project(root / "a" / "b" / "c" / "d" / "too-deep", sync=True),
    )
    # A conda env and a non-uv pyproject: never listed.
    (root / "conda-env" / "conda-meta").mkdir(parents=True)
    (root / "conda-env" / "pyvenv.cfg").write_text("home = /opt/conda/bin\n")
    (root / "poetry-proj").mkdir()
    (root / "poetry-proj" / "pyproject.toml").write_text('[tool.poetry]\nname = "x"\n')
    # A symlink loop.
    (root / "loop").mkdir()
    (root / "loop" / "back").symlink_to(root)
    # A directory discovery cannot read (as root, only inside a user namespace).
    locked_dir = root / "private"
    (locked_dir / "inner").mkdir(parents=True)
    locked_dir.chmod(0)
    return root


@pytest.fixture(scope="session")
def glade_tree(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Path:
    """The tree above, built once per session with real uv."""
    env = {"UV_CACHE_DIR": str(uv_cache_dir), "UV_PYTHON_DOWNLOADS": "never"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        root = build_tree(tmp_path_factory.mktemp("glade") / "work" / "user")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield root
    (root / "private").chmod(0o755)


def run_cli(
    *args: str, unprivileged: bool = False, console_script: bool = False, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``jupyter uvkernel ARGS``: its exit code, stdout and stderr.

    By default it runs in this process (the console script's entry point, with argv, the
    environment and the working directory a subprocess would get, its output captured):
    the same code path without two seconds of interpreter start-up per call. With
    ``console_script`` it runs the real ``jupyter-uvkernel`` script as a subprocess.

    With ``unprivileged`` (and when running as root) the script runs in a new user
    namespace, where root loses CAP_DAC_OVERRIDE, so a chmod 000 directory is really
    unreadable; that needs a process of its own.
    """
    if console_script or (unprivileged and os.geteuid() == 0):
        script = Path(sys.executable).parent / "jupyter-uvkernel"
        argv = [str(script), *args]
        if unprivileged and os.geteuid() == 0:
            argv = ["unshare", "-U", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=check)
    done = run_cli_in_process(list(args))
    if check:
        done.check_returncode()
    return done
