"""One walk for all of a user's processes: reuse only what is safe, write atomically.

Real trees in tmp dirs (venvs and projects made of the files discovery reads, so these
tests need no uv and stay fast), real separate processes for the sharing and the
concurrent writers, and the real CLI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.discovery import ScanOptions, ScanResult, scan_roots, set_directory_hook
from jupyter_uv_kernels.environments import Environment
from jupyter_uv_kernels.scan_share import (
    default_directory,
    read_shared,
    scan_key,
    shared_file,
    shared_scan,
    write_shared,
)

from .conftest import run_cli

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def fake_venv(path: Path, *, uv: bool = True) -> Path:
    """A venv as discovery sees it: pyvenv.cfg, a python that resolves, ipykernel."""
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    (path / "lib" / f"python{VERSION}" / "site-packages" / "ipykernel").mkdir(parents=True)
    uv_line = "uv = 0.9.0\n" if uv else ""
    (path / "pyvenv.cfg").write_text(f"home = /usr/bin\n{uv_line}version_info = {VERSION}.1\n")
    return path


def fake_project(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (path / "uv.lock").write_text("version = 1\n")
    fake_venv(path / ".venv")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project, a uv venv, a plain venv, a deep project, a pruned and a hidden venv."""
    root = tmp_path / "work"
    fake_project(root / "analysis")
    fake_venv(root / "envs" / "uvvenv")
    fake_venv(root / "envs" / "plain", uv=False)
    fake_project(root / "a" / "b" / "deep")
    fake_venv(root / "web" / "node_modules" / "pyenv")
    fake_venv(root / ".hidden" / "env")
    for i in range(20):
        (root / "data" / f"run{i}" / "out").mkdir(parents=True)
    return root


def options_for(root: Path, **overrides: object) -> ScanOptions:
    return ScanOptions.from_config(UvKernels(roots=[str(root)], **overrides), [root])


def records(result: ScanResult) -> list[dict[str, Any]]:
    return [e.to_json() for e in result.environments]


def test_given_a_walk_then_its_records_round_trip_through_json(tree: Path) -> None:
    envs = scan_roots(options_for(tree)).environments
    assert len(envs) == 4
    for env in envs:
        assert Environment.from_json(json.loads(json.dumps(env.to_json()))) == env
    with pytest.raises(ValueError):
        Environment.from_json({"id": "x"})  # required fields missing
    with pytest.raises(ValueError):
        Environment.from_json({**envs[0].to_json(), "path": 3})
    assert Environment.from_json({**envs[0].to_json(), "new_field": 1}) == envs[0]


def test_given_a_shared_walk_when_scanned_again_then_it_is_reused_without_walking(
    tree: Path, tmp_path: Path
) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    first = shared_scan(options, max_age=600, directory=where)
    assert first.shared_from is None and first.directories > 20
    path = shared_file(where, options)
    assert os.stat(path).st_mode & 0o777 == 0o600
    seen: list[str] = []
    set_directory_hook(seen.append)
    try:
        second = shared_scan(options, max_age=600, directory=where)
    finally:
        set_directory_hook(None)
    assert second.shared_from == path and second.shared_age is not None
    assert 0 <= second.shared_age < 60
    assert records(second) == records(first)
    assert (second.directories, second.roots) == (first.directories, first.roots)
    # No directory of the walk was read: the file, and one lstat per environment.
    assert seen == [path] + [e.venv or e.path for e in first.environments]


def test_given_another_configuration_then_the_shared_walk_is_never_reused(
    tree: Path, tmp_path: Path
) -> None:
    where = tmp_path / "scans"
    write_shared(where, options_for(tree), scan_roots(options_for(tree)))
    other_root = tmp_path / "other"
    other_root.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(tree)  # the same directory, spelled another way: records differ
    others = {
        "more roots": ScanOptions.from_config(UvKernels(), [tree, other_root]),
        "another root": options_for(other_root),
        "an alias": options_for(alias),
        "max_depth": options_for(tree, max_depth=2),
        "prune": options_for(tree, prune=[]),
        "prune_hidden": options_for(tree, prune_hidden=False),
        "include_plain_venvs": options_for(tree, include_plain_venvs=False),
    }
    keys = {name: scan_key(o) for name, o in others.items()}
    assert len(set(keys.values()) | {scan_key(options_for(tree))}) == len(others) + 1
    for name, options in others.items():
        assert read_shared(where, options, 600) is None, name
        # even a file put in its place (renamed by hand) is refused: the key is inside
        os.link(shared_file(where, options_for(tree)), shared_file(where, options))
        assert read_shared(where, options, 600) is None, name
    # what does not change what a walk finds does not change the key
    same = options_for(tree, scan_time_budget=1.0, scan_workers=4)
    assert read_shared(where, same, 600) is not None


def test_given_a_partial_walk_then_it_is_never_written_nor_reused(
    tree: Path, tmp_path: Path
) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    partial = dataclasses.replace(scan_roots(options), partial=True)
    assert write_shared(where, options, partial) is None
    assert not os.path.exists(shared_file(where, options))
    # a file that says partial (written by hand or by another version) is not reused
    path = write_shared(where, options, scan_roots(options))
    assert path is not None
    data = json.loads(Path(path).read_text())
    data["result"]["partial"] = True
    Path(path).write_text(json.dumps(data))
    assert read_shared(where, options, 600) is None


def test_given_an_old_or_future_walk_then_it_is_not_reused(tree: Path, tmp_path: Path) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    path = write_shared(where, options, scan_roots(options))
    assert path is not None
    written = json.loads(Path(path).read_text())["written"]
    assert read_shared(where, options, 600, now=written + 599) is not None
    assert read_shared(where, options, 600, now=written + 601) is None
    assert read_shared(where, options, 600, now=written - 60) is None  # from the future
    assert read_shared(where, options, 0, now=written) is None  # 0: never reuse


def test_given_a_corrupt_file_then_it_is_ignored_and_replaced_by_the_next_walk(
    tree: Path, tmp_path: Path
) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    path = write_shared(where, options, scan_roots(options))
    assert path is not None
    whole = Path(path).read_bytes()
    for broken in (whole[: len(whole) // 2], b"", b"\x00" * 10, b"[1, 2]", b'{"format": 1}'):
        Path(path).write_bytes(broken)
        assert read_shared(where, options, 600) is None
    result = shared_scan(options, max_age=600, directory=where)
    assert result.shared_from is None  # walked
    assert read_shared(where, options, 600) is not None  # and the file is whole again


def test_given_an_environment_deleted_since_the_walk_then_the_walk_is_not_reused(
    tree: Path, tmp_path: Path
) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    shared_scan(options, max_age=600, directory=where)
    os.rename(tree / "envs" / "uvvenv", tmp_path / "moved-away")
    again = shared_scan(options, max_age=600, directory=where)
    assert again.shared_from is None
    assert "uvvenv" not in {e.name for e in again.environments}


def test_given_sharing_off_then_nothing_is_written(tree: Path, tmp_path: Path) -> None:
    where = tmp_path / "scans"
    result = shared_scan(options_for(tree), max_age=0, directory=where)
    assert result.shared_from is None and not where.exists()


#: A separate Python: the catalog's scan with a hook that records every metadata call.
PROCESS = textwrap.dedent(
    """
    import json, sys
    from jupyter_uv_kernels import discovery
    from jupyter_uv_kernels.catalog import EnvironmentCatalog
    from jupyter_uv_kernels.config import UvKernels
    seen = []
    discovery.set_directory_hook(seen.append)
    result = EnvironmentCatalog(UvKernels(roots=[sys.argv[1]])).scan()
    print(json.dumps({"ids": [e.id for e in result.environments], "seen": seen,
                      "shared_from": result.shared_from, "directories": result.directories}))
    """
)


def in_process(root: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROCESS, str(root)], capture_output=True, text=True, check=True
    )
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


def test_given_two_processes_then_the_second_reuses_the_first_ones_walk(tree: Path) -> None:
    a = in_process(tree)  # walks, and writes the result into the (hermetic) data dir
    b = in_process(tree)  # a separate Python: reads it
    path = str(default_directory() / f"{scan_key(options_for(tree))}.json")
    assert a["shared_from"] is None and str(tree) in a["seen"]
    assert b["shared_from"] == path and b["ids"] == a["ids"] and len(a["ids"]) == 4
    # B read no directory of the walk: the shared file, then one lstat per environment.
    walked = [p for p in b["seen"] if p != path and not p.endswith(".venv")]
    assert walked == [str(tree / "envs" / "plain"), str(tree / "envs" / "uvvenv")]
    assert b["seen"][0] == path and len(b["seen"]) == 1 + 4


WRITER = textwrap.dedent(
    """
    import sys
    from jupyter_uv_kernels.config import UvKernels
    from jupyter_uv_kernels.discovery import ScanOptions, scan_roots
    from jupyter_uv_kernels.scan_share import write_shared
    options = ScanOptions.from_config(UvKernels(), [sys.argv[1]])
    result = scan_roots(options)
    for i in range(int(sys.argv[3])):
        result.duration = float(i)
        assert write_shared(sys.argv[2], options, result)
    """
)


def test_given_concurrent_writers_then_the_file_always_parses(tree: Path, tmp_path: Path) -> None:
    where = tmp_path / "scans"
    options = options_for(tree)
    path = Path(shared_file(where, options))
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tree), str(where), "50"])
        for _ in range(2)
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue  # before the first write
        json.loads(raw)  # never a torn file
        assert read_shared(where, options, 600) is not None
        reads += 1
    assert [w.returncode for w in writers] == [0, 0]
    assert read_shared(where, options, 600) is not None
    assert [p.name for p in where.iterdir()] == [path.name]  # no temporary file left
    assert reads > 0


def test_given_the_cli_when_refreshed_twice_then_the_second_reuses_and_fresh_walks(
    tree: Path,
) -> None:
    first = run_cli("refresh", "--root", str(tree), check=True).stdout
    assert "reused" not in first and "4 environments" in first
    second = run_cli("refresh", "--root", str(tree), check=True).stdout
    assert "0 changes" in second and "reused the walk of " in second
    assert "s ago (--fresh walks again)." in second
    fresh = run_cli("refresh", "--fresh", "--root", str(tree), check=True).stdout
    assert "reused" not in fresh and "0 changes" in fresh
    listed = json.loads(run_cli("list", "--json", "--root", str(tree), check=True).stdout)
    assert listed["shared_from"] and len(listed["environments"]) == 4
    assert "--fresh" in run_cli("refresh", "--help").stdout
