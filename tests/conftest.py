"""Shared fixtures: hermetic HOME/Jupyter dirs, a session-wide uv cache, real uv envs.

Every test runs with HOME, JUPYTER_DATA_DIR, JUPYTER_CONFIG_DIR and JUPYTER_RUNTIME_DIR in
tmp dirs (pytest-jupyter's ``jp_environ`` does the same for server tests), so nothing reads
or writes the real ``~``. The uv cache is shared by the whole session so each package is
downloaded once.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest_plugins = (
    "pytest_jupyter.jupyter_server",
    "tests.slurm_cluster",
    "tests.figures_report",
    "tests.script_notebooks",
)

REPO = Path(__file__).resolve().parent.parent
_VENV_UV = Path(sys.executable).parent / "uv"
UV = str(_VENV_UV) if _VENV_UV.exists() else (shutil.which("uv") or "uv")

#: The base interpreter behind the test venv: environments are made from it, like a
#: researcher's `uv venv --python 3.11` would.
PYTHON = os.path.realpath(sys.executable)


def hermetic_variables(home: Path, uv_cache: Path | str) -> dict[str, str]:
    """HOME, every Jupyter dir under it, and uv pointed at the given cache, offline-safe."""
    return {
        "HOME": str(home),
        "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".local/share/jupyter/runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / ".jupyter/lab/user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / ".jupyter/lab/workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "UV_CACHE_DIR": str(uv_cache),
        # Self-contained notebooks' envs: per test (the default, beside the shared uv cache,
        # would let one test see another's builds).
        "UV_KERNELS_SCRIPT_ENVS": str(home / "uv-kernel-envs"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }


def is_leaky_variable(key: str) -> bool:
    """Variables a test process must not inherit: conda, Python paths, Jupyter and uv dirs."""
    return key.startswith(("CONDA_", "JUPYTER", "UV_")) or key in (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
    )


def subprocess_environ(
    home: Path, uv_cache: Path | str, extra: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """The environment of a server started as a subprocess: hermetic, with the test venv's
    bin first on PATH (so its `uv` and `jupyter` are the ones used). ``extra`` values of None
    remove a variable."""
    env = {k: v for k, v in os.environ.items() if not is_leaky_variable(k)}
    env.update(hermetic_variables(home, uv_cache), PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for the whole test session (each package downloads once)."""
    preset = os.environ.get("UV_KERNELS_TEST_UV_CACHE")
    if preset:
        return Path(preset)
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(autouse=True)
def hermetic_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, uv_cache_dir: Path
) -> Iterator[Path]:
    """HOME and the Jupyter dirs in tmp; uv pointed at the session cache; no conda leakage."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if is_leaky_variable(key):
            monkeypatch.delenv(key, raising=False)
    for key, value in hermetic_variables(home, uv_cache_dir).items():
        monkeypatch.setenv(key, value)
    yield home


def uv(
    *args: str, cwd: Path | str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real uv (for building fixtures; the code under test has its own runner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_")}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [UV, *args], cwd=cwd, env=env, check=check, capture_output=True, text=True
    )


def make_project(path: Path, *packages: str, sync: bool = True) -> Path:
    """A real uv project (``uv init`` + ``uv add``), like a researcher makes one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", path.name.lower()).strip("-") or "project"
    uv("init", "--no-workspace", "--vcs", "none", "--name", name, "--python", PYTHON, str(path))
    if packages:
        uv("add", "--project", str(path), *([] if sync else ["--no-sync"]), "--", *packages)
    elif sync:
        uv("sync", "--project", str(path))
    return path


def make_venv(path: Path, *packages: str, plain: bool = False) -> Path:
    """A real ``uv venv`` (or, with ``plain``, a stdlib ``python -m venv``) with packages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if plain:
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    else:
        uv("venv", "--python", PYTHON, str(path))
    if packages:
        uv("pip", "install", "--python", str(path / "bin" / "python"), "--", *packages)
    return path


def build_concurrently(*builds: Callable[[], object], workers: int = 4) -> None:
    """Run independent fixture builds at once, each a callable that makes its own folder
    with real uv (as ``make_project``/``make_venv`` do). uv waits on the index and the disk
    much of the time, so a few at once take about half as long; uv locks its cache for
    concurrent use. Raises the first build's error, after every build has ended."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(build) for build in builds]
    for future in futures:
        future.result()


def project_files(project: Path) -> dict[str, bytes]:
    """A project's pyproject.toml and uv.lock, byte for byte (to show nothing changed)."""
    return {n: (project / n).read_bytes() for n in ("pyproject.toml", "uv.lock")}


def in_sync(project: Path) -> bool:
    """The exact answer a user gets from `uv sync --check`."""
    return uv("sync", "--check", "--project", str(project), check=False).returncode == 0


def run_cli_in_process(
    args: list[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``jupyter uvkernel ARGS`` run by the console script's entry point in this process,
    with what a process of its own would see: stdin at end of file, stdout and stderr
    captured, the exit code from SystemExit, an uncaught exception printed as a traceback
    with exit code 1 (as Python does), and, given ``env``, exactly that environment
    (os.environ is swapped for the call). No interpreter start-up, the same code path."""
    from jupyter_uv_kernels import cli

    out, err = io.StringIO(), io.StringIO()
    code = 0
    argv0 = sys.argv
    sys.argv = [str(Path(sys.executable).parent / "jupyter-uvkernel"), *args]
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin_at_eof(),
            _environment(env),
        ):
            try:
                cli.main(args)
            except SystemExit as stop:
                if stop.code is None:
                    code = 0
                elif isinstance(stop.code, int):
                    code = stop.code
                else:
                    print(stop.code, file=sys.stderr)
                    code = 1
            except Exception:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        sys.argv = argv0
        # The apps are singletons: the next run must start from a fresh instance.
        for command in (cli.UvKernelApp, *(c for c, _ in cli.UvKernelApp.subcommands.values())):
            if isinstance(command, type):
                command.clear_instance()
    return subprocess.CompletedProcess(
        ["jupyter-uvkernel", *args], code, out.getvalue(), err.getvalue()
    )


@contextlib.contextmanager
def _stdin_at_eof() -> Iterator[None]:
    """A stdin at end of file and not a terminal, as in CI (where the script's inherited
    stdin is no terminal either): prompts take their non-interactive path."""
    saved = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        yield
    finally:
        sys.stdin = saved


@contextlib.contextmanager
def _environment(env: Mapping[str, str] | None) -> Iterator[None]:
    """os.environ is exactly ``env`` inside (unchanged if None), and as it was after."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
