"""Discovery over a real tree: exact records and statuses, bounds, and no surprises."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.discovery import ScanOptions, scan_roots, set_directory_hook
from jupyter_uv_kernels.environments import environment_id

from .conftest import EXPECTED, MAX_DEPTH, run_cli


def scan(root: Path, **overrides: object):
    settings: dict[str, object] = {"max_depth": MAX_DEPTH, **overrides}
    config = UvKernels(roots=[str(root)], **settings)
    return scan_roots(ScanOptions.from_config(config, [root]))


def test_given_a_tree_when_scanned_then_exactly_the_expected_envs_are_found(
    glade_tree: Path,
) -> None:
    # Given the GLADE-like tree, when it is scanned
    result = scan(glade_tree)
    # then every environment is found once, with the right kind and status, and nothing else
    found = {e.relpath: (e.kind, e.status) for e in result.environments}
    assert found == EXPECTED
    assert not result.partial


def test_given_a_tree_when_scanned_then_records_carry_version_python_and_problems(
    glade_tree: Path,
) -> None:
    envs = {e.relpath: e for e in scan(glade_tree).environments}
    ready = envs["analysis"]
    assert ready.venv == str(glade_tree / "analysis" / ".venv")
    assert ready.python and ready.python.count(".") == 2
    assert ready.has_ipykernel and ready.problem is None
    assert ready.id == environment_id(glade_tree / "analysis")
    assert envs["envs/plain"].uv_managed is False and envs["envs/uvvenv"].uv_managed is True
    # every non-ready record says what to run
    for rel, env in envs.items():
        if env.status != "ready":
            assert env.problem and "`" in env.problem, rel
    assert "uv sync" in envs["locked-no-venv"].problem
    assert "does not resolve" in envs["envs/dangling"].problem
    assert envs["workspace"].workspace_members == ["packages/*"]


def test_given_same_named_projects_when_scanned_then_they_get_distinct_ids(
    glade_tree: Path,
) -> None:
    envs = [e for e in scan(glade_tree).environments if e.name == "dup"]
    assert len(envs) == 2 and envs[0].id != envs[1].id


def test_given_depth_prune_and_plain_venv_settings_when_scanned_then_they_apply(
    glade_tree: Path,
) -> None:
    deeper = {e.relpath for e in scan(glade_tree, max_depth=6).environments}
    assert "a/b/c/d/too-deep" in deeper
    assert "webapp/node_modules/pyenv" not in deeper  # pruned by name at any depth
    unpruned = {e.relpath for e in scan(glade_tree, prune=[]).environments}
    assert "webapp/node_modules/pyenv" in unpruned
    no_plain = {e.relpath for e in scan(glade_tree, include_plain_venvs=False).environments}
    assert no_plain == set(EXPECTED) - {"envs/plain"}


def test_given_parallel_workers_when_scanned_then_the_same_envs_are_found(glade_tree: Path) -> None:
    serial = scan(glade_tree)
    parallel = scan(glade_tree, scan_workers=4)
    assert [e.to_json() for e in parallel.environments] == [
        e.to_json() for e in serial.environments
    ]


def test_given_a_time_budget_when_exceeded_then_the_scan_is_marked_partial(
    glade_tree: Path,
) -> None:
    # Each directory read takes 20 ms, and the budget is 50 ms: the scan stops early.
    set_directory_hook(lambda path: time.sleep(0.02))
    try:
        result = scan(glade_tree, scan_time_budget=0.05)
    finally:
        set_directory_hook(None)
    assert result.partial
    assert len(result.environments) < len(EXPECTED)


def test_given_an_unreadable_directory_when_scanned_then_it_is_skipped_and_logged(
    glade_tree: Path,
) -> None:
    # Given a chmod 000 directory (really unreadable: as root, the CLI runs in a user
    # namespace without CAP_DAC_OVERRIDE), when the real CLI lists the tree
    proc = run_cli(
        "list",
        "--json",
        "--root",
        str(glade_tree),
        f"--UvKernels.max_depth={MAX_DEPTH}",
        unprivileged=True,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    # then the scan completes with every environment, and the user is told what was skipped
    assert {e["relpath"] for e in payload["environments"]} == set(EXPECTED)
    assert payload["skipped"] == [str(glade_tree / "private")]
    assert f"could not read {glade_tree / 'private'}" in proc.stderr


def test_given_a_symlink_into_a_root_when_scanned_then_nothing_is_listed_twice(
    glade_tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link-to-analysis").symlink_to(glade_tree / "analysis")
    (root / "again").symlink_to(glade_tree / "analysis")
    result = scan(root)
    assert [e.id for e in result.environments] == [environment_id(glade_tree / "analysis")]


def test_given_a_tree_when_scanned_then_no_environment_internals_are_touched(
    glade_tree: Path,
) -> None:
    # The walk never descends into an environment: no site-packages directory is read.
    seen: list[str] = []
    set_directory_hook(seen.append)
    try:
        scan(glade_tree)
    finally:
        set_directory_hook(None)
    assert not [p for p in seen if os.sep + ".venv" in p or "site-packages" in p]
    assert not [p for p in seen if p.startswith(str(glade_tree / "envs" / "uvvenv") + os.sep)]
