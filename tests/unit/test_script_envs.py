"""The uv-script kernel's environments: built by the launcher from a juv notebook with real
uv, reused with no uv at all, pruned least recently used first, hostile blocks refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jupyter_uv_kernels import script_envs, script_launcher
from jupyter_uv_kernels.kernel_launcher import LaunchError
from jupyter_uv_kernels.script_block import MAX_BLOCK_BYTES, BlockError
from tests.conftest import UV, uv
from tests.juv_notebooks import juv
from tests.local_package import (
    MODULE,
    NAME,
    notebook_with_local_package,
    set_value,
    simple_index,
)
from tests.script_notebooks import SIX, read, with_block_source

BLOCK = '# /// script\n# requires-python = ">=3.10"\n# dependencies = [\n{deps}# ]\n# ///'


def block(*deps: str) -> str:
    return BLOCK.format(deps="".join(f"#     {d}\n" for d in deps))


def launch_environ(envs: Path, notebook: Path | None = None, uv_binary: str = UV) -> dict[str, str]:
    environ = {**os.environ, "UV_KERNELS_SCRIPT_ENVS": str(envs), "UV_KERNELS_UV": uv_binary}
    if notebook is not None:
        environ["UV_KERNELS_NOTEBOOK"] = str(notebook)
    return environ


def installed(env: str) -> dict[str, str]:
    out = uv("pip", "list", "--python", os.path.join(env, "bin", "python"), "--format", "json")
    return {p["name"]: p["version"] for p in json.loads(out.stdout)}


# -- build and reuse ---------------------------------------------------------------------------


def test_given_a_juv_notebook_when_the_launcher_starts_twice_then_it_builds_once_and_reuses(
    juv_notebook: Path, tmp_path: Path
) -> None:
    envs = tmp_path / "envs"
    target = script_launcher.prepare(launch_environ(envs, juv_notebook), str(tmp_path))
    script = script_envs.NotebookScript.read(str(juv_notebook))
    assert script is not None and script.lock is not None
    assert target.venv == str(envs / script.key)
    packages = installed(target.venv)
    assert packages["six"] == SIX and "ipykernel" in packages
    assert (envs / script.key / script_envs.READY_MARKER).is_file()
    assert [p.name for p in envs.iterdir()] == [script.key]  # no build dir left behind
    # the second start runs no uv: a uv that does not exist is never missed
    marker = envs / script.key / script_envs.READY_MARKER
    os.utime(marker, (1, 1))
    again = script_launcher.prepare(
        launch_environ(envs, juv_notebook, "/nonexistent/uv"), str(tmp_path)
    )
    assert again.venv == target.venv
    assert marker.stat().st_mtime > time.time() - 60  # the use is recorded


def test_given_two_starts_at_once_when_both_build_then_one_env_results(
    juv_notebook: Path, tmp_path: Path
) -> None:
    envs = tmp_path / "envs"
    script = script_envs.NotebookScript.read(str(juv_notebook))
    assert script is not None

    def start() -> str:
        run = script_launcher.run_uv(UV, lambda line: None)
        return script_launcher.build(script, str(envs), run, compile_bytecode=False)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: start(), range(2)))
    assert results == [str(envs / script.key)] * 2
    assert script_envs.is_ready(results[0])
    assert [p.name for p in envs.iterdir()] == [script.key]


def test_given_an_edited_block_and_the_old_lock_when_built_then_it_asks_for_a_relock(
    juv_notebook: Path, tmp_path: Path
) -> None:
    envs = tmp_path / "envs"
    source = "".join(read(juv_notebook)["cells"][0]["source"])
    with_block_source(juv_notebook, source.replace(f"six=={SIX}", "six==1.17.0"))
    with pytest.raises(script_envs.BuildError) as error:
        script_launcher.prepare(launch_environ(envs, juv_notebook), str(tmp_path))
    assert "no longer matches" in str(error.value) and "juv lock" in str(error.value)
    assert list(envs.iterdir()) == []  # nothing built, nothing left


# -- hostile or broken metadata: refused before uv runs ---------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (block('"--index-url=http://x",'), "command-line option"),
        (block('"six",', '"-e ./pkg",'), "command-line option"),
        (block('"six\\nfoo",'), "line break"),
        (block('"six" "x",'), "not valid TOML"),
        (block("six,"), "not valid TOML"),
        (BLOCK.format(deps="#     'x',\n" * (MAX_BLOCK_BYTES // 10)), "larger than"),
    ],
)
def test_given_a_hostile_block_when_the_kernel_starts_then_a_clear_error_and_nothing_built(
    juv_notebook: Path, tmp_path: Path, source: str, expected: str
) -> None:
    envs = tmp_path / "envs"
    with_block_source(juv_notebook, source)
    with pytest.raises((BlockError, script_envs.BuildError)) as error:
        script_launcher.prepare(launch_environ(envs, juv_notebook), str(tmp_path))
    assert expected in str(error.value)
    assert "Traceback" not in str(error.value)
    assert not envs.exists()


def test_given_a_notebook_without_a_block_when_the_kernel_starts_then_it_says_how_to_add_one(
    juv_notebook: Path, tmp_path: Path
) -> None:
    with_block_source(juv_notebook, "print('no block here')")
    with pytest.raises(LaunchError, match=r"(?s)no inline dependencies.*juv add.*another kernel"):
        script_launcher.prepare(launch_environ(tmp_path / "envs", juv_notebook), str(tmp_path))


# -- which notebook ---------------------------------------------------------------------------


def test_given_jpy_session_name_absolute_or_root_relative_then_the_notebook_is_found(
    juv_notebook: Path,
) -> None:
    folder = juv_notebook.parent
    for session in (str(juv_notebook), f"notebooks/{juv_notebook.name}", juv_notebook.name):
        found = script_launcher.find_script({"JPY_SESSION_NAME": session}, str(folder))
        assert found.path == str(juv_notebook), session


def test_given_no_name_when_the_folder_has_one_env_then_it_is_used_else_a_clear_error(
    juv_notebook: Path,
) -> None:
    folder = juv_notebook.parent
    (folder / "copy.ipynb").write_bytes(juv_notebook.read_bytes())  # papermill's output
    (folder / "plain.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    assert script_launcher.find_script({}, str(folder)).key
    with_block_source(juv_notebook, block('"numpy",'), folder / "other.ipynb")
    with pytest.raises(LaunchError, match="UV_KERNELS_NOTEBOOK"):
        script_launcher.find_script({"JPY_SESSION_NAME": "console-1"}, str(folder))


# -- where envs live, and pruning --------------------------------------------------------------


@pytest.mark.parametrize("setting", ["UV_CACHE_DIR", "XDG_CACHE_HOME", "HOME"])
def test_given_uvs_cache_settings_then_the_env_dir_is_beside_uvs_cache_dir(
    tmp_path: Path, setting: str
) -> None:
    unset = ("UV_CACHE_DIR", "XDG_CACHE_HOME", "UV_KERNELS_SCRIPT_ENVS")
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ["HOME"] = str(tmp_path / "home")
    if setting != "HOME":
        environ[setting] = str(tmp_path / "scratch" / "cache")
    said = subprocess.run(
        [UV, "cache", "dir"], env=environ, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert script_envs.uv_cache_dir(environ) == said
    expected = os.path.join(os.path.dirname(said), "uv-kernel-envs")
    assert script_envs.env_dir("", environ) == expected
    assert script_envs.env_dir("", {**environ, "UV_KERNELS_SCRIPT_ENVS": "/x/envs"}) == "/x/envs"
    assert script_envs.env_dir("/y", environ) == "/y"


def fake_env(envs: Path, key: str, used: float) -> None:
    (envs / key / "bin").mkdir(parents=True)
    (envs / key / "bin" / "python").touch()
    marker = envs / key / script_envs.READY_MARKER
    marker.touch()
    os.utime(marker, (used, used))


def test_given_more_envs_than_the_max_when_pruned_then_the_least_recently_used_go(
    tmp_path: Path,
) -> None:
    envs = tmp_path / "envs"
    for i in range(6):
        fake_env(envs, f"env{i}", 1000.0 + i)
    (envs / "half-built").mkdir()  # no marker: never touched
    removed = script_envs.prune(str(envs), 3, keep={"env0"})
    assert sorted(removed) == ["env1", "env2", "env3"]
    assert sorted(p.name for p in envs.iterdir()) == ["env0", "env4", "env5", "half-built"]
    assert script_envs.prune(str(envs), 0) == []  # 0 keeps them all


# -- a package of the user's own, by a path relative to the notebook --------------------------


def test_given_a_local_editable_package_when_started_then_the_env_uses_the_folders_source(
    tmp_path: Path,
) -> None:
    # Given a locked juv notebook whose block has ./mylib, editable (juv add --editable)
    folder = tmp_path / "work" / "paper"
    nb = notebook_with_local_package(folder)
    script = script_envs.NotebookScript.read(str(nb))
    assert script is not None and script.folder == str(folder.resolve())
    before = sorted(p.name for p in folder.iterdir())
    envs = tmp_path / "envs"
    # When the kernel starts
    target = script_launcher.prepare(launch_environ(envs, nb), str(folder))
    # Then its env imports the folder's package, and sees an edit without a rebuild
    probe = f"import {MODULE}; print({MODULE}.VALUE, {MODULE}.__file__)"

    def ask(venv: str) -> list[str]:
        python = os.path.join(venv, "bin", "python")
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
        return out.stdout.split()

    value, where = ask(target.venv)
    assert value == "one" and where.startswith(str(folder.resolve()))
    set_value(folder, "two")
    assert ask(target.venv)[0] == "two"
    # ... and the copy of the block it exported beside the notebook is gone
    assert sorted(p.name for p in folder.iterdir()) == before
    # Given a colleague's clone at another path: its own env, on its own copy of mylib
    clone = Path(shutil.copytree(folder, tmp_path / "colleague" / "paper"))
    cloned = script_launcher.prepare(launch_environ(envs, clone / "fig.ipynb"), str(clone))
    assert cloned.venv != target.venv
    assert ask(cloned.venv)[1].startswith(str(clone.resolve()))


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1) for a read-only folder")
def test_given_a_local_package_in_a_read_only_folder_then_a_clear_error_and_nothing_left(
    tmp_path: Path,
) -> None:
    # Given the notebook in a folder its user cannot write (a read-only clone); root ignores
    # permissions, so the start runs as an unprivileged user (unshare -U)
    folder = tmp_path / "clone"
    nb = notebook_with_local_package(folder)
    envs = tmp_path / "envs"
    envs.mkdir(mode=0o777)
    envs.chmod(0o777)
    folder.chmod(0o555)
    code = (
        "import os, sys\n"
        "from jupyter_uv_kernels import script_envs, script_launcher\n"
        "try:\n"
        f"    script_launcher.prepare(dict(os.environ), {str(folder)!r})\n"
        "except script_envs.BuildError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        argv = ["unshare", "-U", *argv]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=launch_environ(envs, nb), timeout=120
        )
    finally:
        folder.chmod(0o755)
    # Then the start fails with what is wrong and the fix, and leaves nothing behind
    assert done.returncode == 3, done.stderr
    message = " ".join(done.stdout.split())
    assert "by a path relative to its folder" in message and "absolute" in message, message
    assert list(envs.iterdir()) == []


def test_given_a_block_with_its_own_index_when_built_then_the_package_comes_from_it(
    juv_notebook: Path, tmp_path: Path
) -> None:
    # Given a notebook whose block takes uvk-local from the group's own index (not on PyPI)
    index = simple_index(tmp_path / "group")
    source = (
        "# /// script\n"
        '# requires-python = ">=3.10"\n'
        f'# dependencies = ["{NAME}"]\n'
        "#\n"
        "# [[tool.uv.index]]\n"
        '# name = "group"\n'
        f'# url = "{index.as_uri()}"\n'
        "#\n"
        "# [tool.uv.sources]\n"
        f'# {NAME} = {{ index = "group" }}\n'
        "# ///"
    )
    nb = with_block_source(juv_notebook, source)
    juv("lock", str(nb))
    # When the kernel starts
    envs = tmp_path / "envs"
    target = script_launcher.prepare(launch_environ(envs, nb), str(nb.parent))
    # Then the env has it, from that index, beside ipykernel from the default one
    packages = installed(target.venv)
    assert packages[NAME] == "1.0" and "ipykernel" in packages
