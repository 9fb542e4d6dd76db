"""The kernelspec reconciler against real environments and a real kernelspec dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from jupyter_uv_kernels.catalog import EnvironmentCatalog
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.kernel_launcher import LAUNCHER_FILE
from jupyter_uv_kernels.kernelspecs import (
    OWNER_KEY,
    PROJECT_KERNEL_NAME,
    SCRIPT_KERNEL_NAME,
    STAGING_DIR,
)

from .conftest import MAX_DEPTH


@pytest.fixture
def tree(glade_tree: Path, tmp_path: Path) -> Path:
    """A private copy of the shared tree (tests here delete environments)."""
    copy = tmp_path / "work"
    subprocess.run(["cp", "-a", str(glade_tree), str(copy)], check=True)
    (copy / "private").chmod(0o755)
    shutil.rmtree(copy / "private")
    (copy / "loop" / "back").unlink()
    (copy / "loop" / "back").symlink_to(copy)  # the loop stays a loop in the copy
    return copy


def catalog_for(root: Path, kernels: Path) -> EnvironmentCatalog:
    config = UvKernels(roots=[str(root)], max_depth=MAX_DEPTH, kernelspec_dir=str(kernels))
    return EnvironmentCatalog(config)


def refreshed(root: Path, kernels: Path) -> EnvironmentCatalog:
    """A catalog over ``root`` writing to ``kernels``, after its first refresh."""
    catalog = catalog_for(root, kernels)
    catalog.refresh()
    return catalog


#: The kernels with no environment of their own.
FIXED = (PROJECT_KERNEL_NAME, SCRIPT_KERNEL_NAME)


def owned(kernels: Path) -> dict[str, dict]:
    """The per-environment specs we wrote (uv-project and uv-script, which have no env of
    their own, are left out)."""
    out = {}
    for spec in sorted(kernels.glob("*/kernel.json")):
        data = json.loads(spec.read_text())
        if OWNER_KEY in data["metadata"] and spec.parent.name not in FIXED:
            out[spec.parent.name] = data
    return out


def owned_at(specs: dict[str, dict], suffix: str) -> dict[str, dict]:
    """The specs among ``specs`` whose environment path ends with ``suffix``."""
    return {n: d for n, d in specs.items() if d["metadata"][OWNER_KEY]["path"].endswith(suffix)}


def test_given_a_tree_when_reconciled_then_ready_and_out_of_sync_register_and_rerun_is_no_op(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = catalog_for(tree, kernels)
    result, rec = catalog.refresh()
    wanted = {e.path for e in result.environments if e.status in ("ready", "out-of-sync")}
    specs = owned(kernels)
    assert {s["metadata"][OWNER_KEY]["path"] for s in specs.values()} == wanted
    assert sorted(rec.added) == sorted([*specs, *FIXED])
    # every spec is a real kernelspec jupyter_client can load, run by the env's own python
    # through the launcher beside it, naming no provisioner (portable to any Python)
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    for name, data in specs.items():
        spec = ksm.get_kernel_spec(name)
        env_path = data["metadata"][OWNER_KEY]["path"]
        assert spec.argv[0].startswith(env_path)
        assert spec.argv[2] == "{resource_dir}/" + LAUNCHER_FILE
        assert (kernels / name / LAUNCHER_FILE).is_file()
        assert "kernel_provisioner" not in spec.metadata
        assert name.startswith("uv-") and len(name.rsplit("-", 1)[1]) == 8
        # the launcher shows the env's ipykernel logo, not a letter tile
        assert (kernels / name / "logo-64x64.png").is_file()
    # a second run changes nothing and says so
    mtimes = {p: p.stat().st_mtime_ns for p in kernels.glob("*/*") if p.is_file()}
    _, again = catalog.refresh()
    assert again.changes == 0
    assert {p: p.stat().st_mtime_ns for p in kernels.glob("*/*") if p.is_file()} == mtimes


def test_given_a_deleted_environment_when_reconciled_then_its_spec_is_removed(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    before = owned(kernels)
    (name,) = owned_at(before, "/analysis")
    shutil.rmtree(tree / "analysis")
    _, rec = catalog.refresh()
    assert rec.removed == [name]
    assert set(owned(kernels)) == set(before) - {name}


def test_given_a_partial_scan_when_reconciled_then_what_it_did_not_see_is_kept(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    before = set(owned(kernels))
    result = catalog.scan()
    result.environments = result.environments[:1]
    result.partial = True
    rec = catalog.reconcile(result)
    assert rec.removed == [] and set(owned(kernels)) == before


def test_given_a_users_own_spec_when_reconciled_then_it_is_untouched_and_no_second_kernel(
    tree: Path, tmp_path: Path
) -> None:
    # Given a kernelspec the user installed by hand for the analysis project's venv
    kernels = tmp_path / "kernels"
    user_spec = kernels / "my-analysis"
    python = tree / "analysis" / ".venv" / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(tmp_path / "prefix"),
            "--name",
            "my-analysis",
        ],
        check=True,
        capture_output=True,
    )
    user_spec.parent.mkdir(parents=True)
    shutil.copytree(tmp_path / "prefix/share/jupyter/kernels/my-analysis", user_spec)
    original = (user_spec / "kernel.json").read_bytes()
    # when the reconciler runs
    catalog = catalog_for(tree, kernels)
    result, rec = catalog.refresh()
    # then the user's spec is byte-identical, the env has no kernel of ours, and the record
    # points at the user's kernel
    assert (user_spec / "kernel.json").read_bytes() == original
    paths = [d["metadata"][OWNER_KEY]["path"] for d in owned(kernels).values()]
    assert str(tree / "analysis") not in paths
    assert rec.user_owned == {str(tree / "analysis"): "my-analysis"}
    env = next(e for e in result.environments if e.relpath == "analysis")
    assert env.kernel == "my-analysis"
    # and removing specs never touches it
    with pytest.raises(Exception, match="did not write"):
        catalog.reconciler.unregister("my-analysis")
    assert (user_spec / "kernel.json").read_bytes() == original


def test_given_same_named_projects_when_reconciled_then_kernels_and_names_are_distinct(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog_for(tree, kernels).refresh()
    dups = owned_at(owned(kernels), "/dup")
    assert len(dups) == 2
    labels = sorted(d["display_name"] for d in dups.values())
    assert labels[0] != labels[1]
    assert "group a" in labels[0] and "group b" in labels[1]
    version = ".".join(map(str, sys.version_info[:2]))
    assert all(label.startswith(f"Python {version} (dup") for label in labels)


def test_given_another_scan_order_when_reconciled_then_the_names_are_the_same(
    tree: Path, tmp_path: Path
) -> None:
    first = catalog_for(tree, tmp_path / "k1")
    first.refresh()
    # Another root list order (and another dir) gives the same kernel names.
    config = UvKernels(
        roots=[str(tree / "group b"), str(tree)],
        max_depth=MAX_DEPTH,
        kernelspec_dir=str(tmp_path / "k2"),
    )
    EnvironmentCatalog(config).refresh()
    assert set(owned(tmp_path / "k1")) == set(owned(tmp_path / "k2"))


def test_given_concurrent_reconcilers_when_they_write_then_writes_are_atomic_and_agree(
    tree: Path, tmp_path: Path
) -> None:
    # Two processes (a login-node and a compute-node server sharing $HOME) reconcile the same
    # kernelspec dir at the same moment: no duplicates, no partial kernel.json, no temp dirs.
    kernels = tmp_path / "kernels"
    code = (
        "import sys; from jupyter_uv_kernels.config import UvKernels;"
        "from jupyter_uv_kernels.catalog import EnvironmentCatalog;"
        f"c = UvKernels(roots=[{str(tree)!r}], max_depth={MAX_DEPTH},"
        f" kernelspec_dir={str(kernels)!r});"
        "EnvironmentCatalog(c).refresh()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    # what jupyter_client lists: every child holding a kernel.json, hidden ones included
    entries = sorted(p.parent.name for p in kernels.glob("*/kernel.json"))
    assert not [e for e in entries if e.startswith(".")]
    assert not list((kernels / STAGING_DIR).iterdir())  # nothing half-built left behind
    single = catalog_for(tree, tmp_path / "single")
    single.refresh()
    assert entries == sorted([*owned(tmp_path / "single"), *FIXED])
    for spec in kernels.glob("*/kernel.json"):
        json.loads(spec.read_text())


def test_given_a_chosen_name_when_reconciled_again_then_it_survives(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    env = catalog.inspect(str(tree / "analysis"))
    catalog.register(env, name="my-analysis-k", display_name="My analysis")
    _, rec = catalog.refresh()
    specs = owned(kernels)
    mine = [n for n, d in specs.items() if d["metadata"][OWNER_KEY]["path"] == env.path]
    assert mine == ["my-analysis-k"]  # one kernel for the env, under the chosen name
    assert specs["my-analysis-k"]["display_name"] == "My analysis"
    assert rec.changes == 0


def test_given_an_unregistered_env_when_reconciled_then_it_stays_off_until_registered(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    removed = catalog.reconciler.unregister(str(tree / "analysis"))
    assert len(removed) == 1
    result, rec = catalog.refresh()
    assert rec.added == []
    assert next(e for e in result.environments if e.relpath == "analysis").kernel is None
    # registering again (CLI install, REST register) brings it back for good
    catalog.register(catalog.inspect(str(tree / "analysis")))
    _, rec = catalog.refresh()
    assert rec.changes == 0
    assert owned_at(owned(kernels), "/analysis")


def test_given_a_spec_written_by_an_older_version_when_reconciled_then_it_becomes_portable(
    tree: Path, tmp_path: Path
) -> None:
    # Given the spec version 0.1 wrote: it names uv-provisioner, which hides it from a Python
    # without this package, and has no launcher beside it
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    specs = owned(kernels)
    (name,) = owned_at(specs, "/analysis")
    venv = str(tree / "analysis" / ".venv")
    old = {
        "argv": [f"{venv}/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3.11 (analysis)",
        "language": "python",
        "metadata": {
            "debugger": True,
            "kernel_provisioner": {
                "provisioner_name": "uv-provisioner",
                "config": {"env_path": venv, "kind": "project", "project_path": str(tree)},
            },
            OWNER_KEY: {"format": 1, "owned": True, "path": str(tree / "analysis")},
        },
    }
    (kernels / name / "kernel.json").write_text(json.dumps(old))
    (kernels / name / LAUNCHER_FILE).unlink()
    # When the reconciler runs
    _, rec = catalog.refresh()
    # Then the same kernel name is rewritten in the portable format, with its launcher
    assert name in rec.updated
    data = json.loads((kernels / name / "kernel.json").read_text())
    assert "kernel_provisioner" not in data["metadata"]
    assert data["argv"][2] == "{resource_dir}/" + LAUNCHER_FILE
    assert (kernels / name / LAUNCHER_FILE).is_file()


def test_given_the_default_config_then_uv_project_is_kept_and_removing_it_says_how(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    catalog = refreshed(tree, kernels)
    # uv-project is a real spec that jupyter_client lists, run by whatever Python runs Jupyter
    spec = KernelSpecManager(kernel_dirs=[str(kernels)]).get_kernel_spec(PROJECT_KERNEL_NAME)
    assert spec.argv[0] == "python3" and spec.metadata[OWNER_KEY]["kind"] == "uv-project"
    assert spec.display_name == "Python (this folder's uv project)"
    # its own removal would not stick: the message names the setting that does
    with pytest.raises(Exception, match="project_kernel = False"):
        catalog.reconciler.unregister(PROJECT_KERNEL_NAME)
    # with the setting off, the next reconcile removes it
    config = UvKernels(
        roots=[str(tree)], max_depth=MAX_DEPTH, kernelspec_dir=str(kernels), project_kernel=False
    )
    _, rec = EnvironmentCatalog(config).refresh()
    assert rec.removed == [PROJECT_KERNEL_NAME]
    assert not (kernels / PROJECT_KERNEL_NAME).exists()


def test_given_uv_project_written_before_any_env_when_one_appears_then_it_gets_the_logo(
    tree: Path, tmp_path: Path
) -> None:
    kernels = tmp_path / "kernels"
    empty = tmp_path / "empty"
    empty.mkdir()
    catalog_for(empty, kernels).refresh()
    assert not (kernels / PROJECT_KERNEL_NAME / "logo-64x64.png").exists()
    catalog_for(tree, kernels).refresh()
    assert (kernels / PROJECT_KERNEL_NAME / "logo-64x64.png").is_file()
