"""Incremental checks on real trees (real uv): what one check finds, what it costs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_uv_kernels.discovery import ScanOptions, scan_roots, set_directory_hook
from jupyter_uv_kernels.environments import Environment
from jupyter_uv_kernels.incremental import CheckResult, Watch, build_watch, check
from tests.conftest import make_project, make_venv, uv


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return Path(os.path.realpath(path))


def options(root: Path) -> ScanOptions:
    return ScanOptions(roots=[str(root)], max_depth=6)


def age(root: Path, seconds: float = 3600) -> None:
    """Make everything under ``root`` look untouched for an hour (mtimes a full walk trusts)."""
    then = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (then, then), follow_symlinks=False)
    os.utime(root, (then, then))


def full_walk(root: Path) -> tuple[list[Environment], Watch]:
    result = scan_roots(options(root))
    envs = result.environments
    return envs, build_watch(options(root), envs, result.candidates, result.started_at)


def paths(envs: list[Environment]) -> set[str]:
    return {e.path for e in envs}


class Checker:
    """Runs checks one after another, like the server does, counting the hook's calls."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.envs, self.watch = full_walk(root)
        self.hooked: list[str] = []

    def __call__(self) -> CheckResult:
        self.hooked.clear()
        set_directory_hook(self.hooked.append)
        try:
            result = check(options(self.root), self.envs, self.watch)
        finally:
            set_directory_hook(None)
        self.envs, self.watch = result.environments, result.watch
        return result

    @property
    def paths(self) -> set[str]:
        return paths(self.envs)


@pytest.fixture
def tree(root: Path) -> Iterator[Path]:
    """A root with a project and a venv in a group folder, data folders, a deep old tree."""
    make_project(root / "group" / "analysis")
    make_venv(root / "group" / "tools")
    make_venv(root / "elsewhere" / "deep" / "env")
    for i in range(5):
        (root / "data" / f"run{i}" / "output").mkdir(parents=True)
    (root / "old" / "a" / "b").mkdir(parents=True)
    age(root)
    yield root


def test_given_nothing_changed_when_checked_then_only_stats_and_the_same_list(tree: Path) -> None:
    checker = Checker(tree)
    before = [e.to_json() for e in checker.envs]
    assert len(before) == 3

    result = checker()

    assert result.directories == 0, "an unchanged tree must not be read"
    assert not result.anything_changed
    assert [e.to_json() for e in result.environments] == before
    # Every metadata call went through the hook, and they are all stats.
    assert len(checker.hooked) == result.stats == checker.watch.cost
    # 2 venvs x 2 markers + a project's 4, and a handful of watched folders: far below a walk.
    full = scan_roots(options(tree)).directories
    assert result.stats < full
    assert result.stats <= 8 + len(checker.watch.dirs)


def test_given_a_new_project_in_a_first_level_folder_then_a_check_finds_it(tree: Path) -> None:
    checker = Checker(tree)
    make_project(tree / "data" / "new-project")

    result = checker()

    assert [e.path for e in result.added] == [str(tree / "data" / "new-project")]
    assert result.added[0].kind == "project"
    # Only the folder that changed and the new tree were read, not the runs under data/.
    assert not [p for p in checker.hooked if "/run" in p]
    assert result.directories < 10


def test_given_a_new_venv_next_to_a_known_env_then_a_check_finds_it(tree: Path) -> None:
    checker = Checker(tree)
    make_venv(tree / "elsewhere" / "deep" / "env2")

    result = checker()

    assert paths(result.added) == {str(tree / "elsewhere" / "deep" / "env2")}


def test_given_uv_init_then_uv_add_later_then_the_second_check_finds_it(tree: Path) -> None:
    checker = Checker(tree)
    project = tree / "fresh"
    uv("init", "--no-workspace", "--vcs", "none", "--name", "fresh", str(project))

    first = checker()
    assert not first.added, "a pyproject.toml alone is not an environment"
    assert str(project) in checker.watch.dirs, "it is watched as a candidate"

    uv("sync", "--project", str(project))
    second = checker()
    assert paths(second.added) == {str(project)}


def test_given_a_candidate_seen_by_the_full_walk_then_a_check_finds_it_once_locked(
    root: Path,
) -> None:
    project = root / "deep" / "er" / "x"
    project.parent.mkdir(parents=True)
    uv("init", "--no-workspace", "--vcs", "none", "--name", "x", str(project))
    age(root)
    checker = Checker(root)
    assert checker.envs == []

    uv("sync", "--project", str(project))
    assert paths(checker().added) == {str(project)}


def test_given_a_deleted_env_then_a_check_removes_it(tree: Path) -> None:
    checker = Checker(tree)
    shutil.rmtree(tree / "group" / "tools")

    result = checker()

    assert paths(result.removed) == {str(tree / "group" / "tools")}
    assert str(tree / "group" / "tools") not in checker.paths


def test_given_a_renamed_env_then_one_check_has_the_new_name_only(tree: Path) -> None:
    checker = Checker(tree)
    os.rename(tree / "group" / "analysis", tree / "group" / "renamed")

    result = checker()

    assert paths(result.removed) == {str(tree / "group" / "analysis")}
    assert paths(result.added) == {str(tree / "group" / "renamed")}
    assert str(tree / "group" / "renamed") in checker.paths


def test_given_an_env_moved_to_another_watched_folder_then_one_check_follows_it(
    tree: Path,
) -> None:
    checker = Checker(tree)
    os.rename(tree / "group" / "tools", tree / "elsewhere" / "deep" / "tools")

    result = checker()

    assert paths(result.removed) == {str(tree / "group" / "tools")}
    assert paths(result.added) == {str(tree / "elsewhere" / "deep" / "tools")}


def test_given_a_root_that_disappears_then_its_envs_go_and_come_back_with_it(
    tree: Path,
) -> None:
    checker = Checker(tree)
    moved = tree.with_name("work-moved")
    os.rename(tree, moved)

    gone = checker()
    assert checker.envs == [] and len(gone.removed) == 3
    assert gone.stats == 1, "a missing root costs one stat, not one per env"

    os.rename(moved, tree)
    back = checker()
    assert len(back.added) == 3

    shutil.rmtree(tree)
    assert checker().environments == []
    assert checker().environments == []  # and again, quietly


def test_given_a_change_deep_in_an_old_unwatched_tree_then_only_a_full_walk_finds_it(
    tree: Path,
) -> None:
    """The documented limitation: old/a/b existed at the full walk and holds no env, so
    neither old/a nor old/a/b is watched; the next full walk finds what appears there."""
    checker = Checker(tree)
    make_venv(tree / "old" / "a" / "b" / "hidden-env")

    assert not checker().anything_changed
    assert str(tree / "old" / "a" / "b" / "hidden-env") in paths(full_walk(tree)[0])


def test_given_a_new_small_tree_then_a_project_made_deep_in_it_later_is_found(
    tree: Path,
) -> None:
    checker = Checker(tree)
    (tree / "2025" / "march" / "runs").mkdir(parents=True)
    assert not checker().anything_changed

    make_venv(tree / "2025" / "march" / "runs" / "env")
    assert paths(checker().added) == {str(tree / "2025" / "march" / "runs" / "env")}


def test_given_an_install_into_a_known_venv_then_its_status_changes(tree: Path) -> None:
    checker = Checker(tree)
    venv = tree / "group" / "tools"
    assert next(e for e in checker.envs if e.path == str(venv)).status == "needs-ipykernel"
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "ipykernel").mkdir()  # what an install adds, as far as the record is concerned

    result = checker()

    assert [(e.path, e.status) for e in result.changed] == [(str(venv), "ready")]
    assert result.directories == 1, "only the changed env is read again"
