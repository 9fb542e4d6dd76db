"""Kernelspec directories as jupyter_uv_kernels writes them: format, reading, atomic writes.

A spec dir holds kernel.json, the launcher (``uvkernel_launch.py``, see
:mod:`kernel_launcher`) and the env's ipykernel logos. kernel.json names no provisioner
(format 2), so any jupyter_client in any Python starts it; its metadata carries our owner
marker. Writes are atomic (a new dir is assembled in a staging subdirectory and renamed
into place; files in an existing dir are replaced one by one, kernel.json last), so two
servers sharing one $HOME, and a batch job reading the dir, never see a half-written spec.
The rules for *which* specs exist are the reconciler's (:mod:`kernelspecs`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import kernel_launcher, script_block, script_envs, script_launcher
from .environments import Environment, site_packages_dir, venv_interpreter
from .kernel_launcher import LAUNCHER_FILE, Target, environment_of

log = logging.getLogger(__name__)

#: Key under kernel.json ``metadata`` that marks a spec as written (owned) by us.
OWNER_KEY = "jupyter_uv_kernels"
#: 1: named ``uv-provisioner`` in its metadata (invisible to Pythons without this package);
#: 2: portable, started through the launcher copied beside kernel.json.
SPEC_FORMAT = 2
#: The kernel that runs the project the notebook is in, found at start.
PROJECT_KERNEL_NAME = "uv-project"
PROJECT_KERNEL_DISPLAY_NAME = "Python (this folder's uv project)"
#: ``kind`` in the owner marker of the uv-project spec.
PROJECT_KERNEL_KIND = "uv-project"
#: The kernel that runs a notebook on its own inline dependencies (PEP 723, juv's format).
SCRIPT_KERNEL_NAME = "uv-script"
SCRIPT_KERNEL_DISPLAY_NAME = "Python (notebook's inline dependencies)"
SCRIPT_KERNEL_KIND = script_launcher.SCRIPT_KIND
#: Kernels with no environment of their own: each finds one at start.
FIXED_KINDS = (PROJECT_KERNEL_KIND, SCRIPT_KERNEL_KIND)
#: A logo every ipykernel ships; its absence means a spec dir got no logos.
PROBE_LOGO = "logo-64x64.png"
#: Hidden file beside the specs: environments whose kernel the user unregistered.
STATE_FILE = ".jupyter_uv_kernels.json"
#: Hidden subdirectory of the kernels dir where spec dirs are assembled and removed.
STAGING_DIR = ".jupyter_uv_kernels-staging"


@dataclass
class SpecOnDisk:
    name: str
    directory: str
    data: dict[str, Any]

    @property
    def owner(self) -> dict[str, Any] | None:
        meta = self.data.get("metadata")
        owner = meta.get(OWNER_KEY) if isinstance(meta, dict) else None
        return owner if isinstance(owner, dict) else None

    @property
    def owned(self) -> bool:
        return self.owner is not None

    @property
    def env_path(self) -> str | None:
        owner = self.owner
        path = owner.get("path") if owner else None
        return path if isinstance(path, str) else None

    def target(self) -> Target | None:
        """The environment of an owned per-environment spec (see :func:`spec_target`)."""
        return spec_target(self.data.get("argv"), self.owner)

    @property
    def is_project_kernel(self) -> bool:
        return (self.owner or {}).get("kind") == PROJECT_KERNEL_KIND

    @property
    def is_fixed_kernel(self) -> bool:  # uv-project or uv-script: no env of its own
        return (self.owner or {}).get("kind") in FIXED_KINDS


def spec_target(argv: object, owner: dict[str, Any] | None) -> Target | None:
    """The environment a per-environment spec of ours runs: derived from its argv[0] and
    marker exactly as the launcher derives it; format-1 specs kept both paths in the
    marker. None for specs that are not ours, and for uv-project and uv-script (they have
    no env of their own).
    """
    if owner is None or owner.get("kind") in FIXED_KINDS:
        return None
    if owner.get("format") == 1 or not isinstance(argv, list) or not argv:
        path = owner.get("path")
        if not isinstance(path, str):
            return None
        project = path if owner.get("kind") == "project" else None
        venv = owner.get("venv")
        if not isinstance(venv, str):
            venv = os.path.join(path, ".venv") if project else path
        return Target(venv, project)
    return environment_of(owner, str(argv[0]))


def read_specs(directory: str | os.PathLike[str]) -> list[SpecOnDisk]:
    """Every readable kernel.json directly under ``directory``."""
    specs = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            with open(os.path.join(entry.path, "kernel.json"), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            specs.append(SpecOnDisk(entry.name, entry.path, data))
    return specs


def read_spec(directory: str | os.PathLike[str], name: str) -> SpecOnDisk | None:
    """The kernel.json of one spec under ``directory``, or None."""
    if not name or name.startswith(".") or os.sep in name:
        return None
    path = os.path.join(directory, name)
    try:
        with open(os.path.join(path, "kernel.json"), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return SpecOnDisk(name, path, data) if isinstance(data, dict) else None


def _bin_dir_of(argv0: str) -> str:
    # Resolve the directory, not the file: a venv's bin/python is a symlink to the base
    # interpreter, which every venv made from that Python shares.
    return os.path.realpath(os.path.dirname(os.path.abspath(argv0)))


def user_specs_by_bin_dir(search_dirs: Iterable[str]) -> dict[str, str]:
    """Map ``realpath(bin dir)`` -> spec name for every spec we do not own."""
    out: dict[str, str] = {}
    for directory in search_dirs:
        for spec in read_specs(directory):
            argv = spec.data.get("argv")
            if spec.owned or not isinstance(argv, list) or not argv or not isinstance(argv[0], str):
                continue
            if os.sep not in argv[0]:
                continue  # "python" on PATH: not tied to any one environment
            out.setdefault(_bin_dir_of(argv[0]), spec.name)
    return out


def display_names(envs: list[Environment]) -> dict[str, str]:
    """``Python 3.12 (name)``, with enough of the path to tell apart colliding names."""
    base = {e.id: f"Python {_short_version(e.python)} ({e.name})" for e in envs}
    counts = Counter(base.values())
    out = {}
    for e in envs:
        label = base[e.id]
        if counts[label] > 1:
            where = os.path.dirname(e.relpath) if e.relpath and e.relpath != "." else ""
            where = where or os.path.dirname(e.path)
            label = f"Python {_short_version(e.python)} ({e.name} · {where})"
        out[e.id] = label
    return out


def _short_version(version: str | None) -> str:
    if not version:
        return "3"
    return ".".join(version.split(".")[:2])


def _launcher_argv(interpreter: str, launcher: str = LAUNCHER_FILE) -> list[str]:
    # -I: the launcher ignores PYTHONPATH, PYTHONHOME and user site-packages of the parent;
    # -S: it needs no site-packages at all (stdlib only), and starts faster without them.
    # It reads what else it needs from the kernel.json beside it, so argv is as short as a
    # stock spec's (each item is validated and re-sent on every kernelspec listing).
    return [interpreter, "-IS", "{resource_dir}/" + launcher, "-f", "{connection_file}"]


def build_spec(
    env: Environment,
    display_name: str,
    *,
    custom_name: bool = False,
    custom_display_name: bool = False,
) -> dict[str, Any]:
    """The kernel.json of ``env``. ``custom_*`` mark names the user chose, which later
    reconciles keep instead of the defaults.

    It names no provisioner, so any jupyter_client >= 7 in any Python lists and starts it
    (a batch job's papermill has no jupyter_uv_kernels). argv[0] is the env's own
    interpreter, which runs the launcher copied beside kernel.json; the launcher cleans the
    environment and execs ipykernel. In the server, ``uv-provisioner`` is the default
    provisioner and recognises the spec by the owner marker.

    The marker holds only the format and the env path (the public contract); the venv is
    argv[0]'s, and the project is the path when it is not the venv itself. Every byte here
    is parsed and sent again on each ``GET /api/kernelspecs`` (benchmarks/, figure b)."""
    assert env.venv is not None
    owner: dict[str, Any] = {"format": SPEC_FORMAT, "path": env.path}
    if custom_name:
        owner["custom_name"] = True
    if custom_display_name:
        owner["custom_display_name"] = True
    return {
        "argv": _launcher_argv(venv_interpreter(env.venv)),
        "display_name": display_name,
        "language": "python",
        # No "env": {} or "interrupt_mode": "signal": those are jupyter_client's defaults
        # (GET /api/kernelspecs shows them all the same), and every key costs a traitlets
        # validation per spec per listing (benchmarks/, figure b).
        "metadata": {"debugger": True, OWNER_KEY: owner},
    }


def build_project_kernel_spec() -> dict[str, Any]:
    """kernel.json of ``uv-project``: the env of the project the notebook is in.

    argv[0] is ``python3``, which jupyter_client replaces with its own interpreter, so the
    spec works on any machine and in any clone; the launcher then finds the project by
    walking up from the kernel's working directory (the notebook's folder)."""
    return {
        "argv": _launcher_argv("python3"),
        "display_name": PROJECT_KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {
            "debugger": True,
            OWNER_KEY: {"format": SPEC_FORMAT, "kind": PROJECT_KERNEL_KIND},
        },
    }


def build_script_kernel_spec() -> dict[str, Any]:
    """kernel.json of ``uv-script``: the env a notebook's inline dependencies build.

    Like uv-project's, argv[0] is ``python3`` (jupyter_client's own interpreter); the
    launcher, named after the digest of the files it needs, finds the notebook, reuses or
    builds its env, and execs ipykernel there (:mod:`script_launcher`)."""
    spec = build_project_kernel_spec()
    name = next(n for n in script_launcher_files() if n.startswith("uvkernel_script_"))
    spec["argv"] = _launcher_argv("python3", name)
    spec["display_name"] = SCRIPT_KERNEL_DISPLAY_NAME
    spec["metadata"][OWNER_KEY]["kind"] = SCRIPT_KERNEL_KIND
    return spec


@functools.lru_cache(maxsize=1)
def script_launcher_files() -> dict[str, str]:
    """File name -> text of the uv-script launcher and the stdlib modules it imports. The
    launcher's name holds a digest of them all, so any change rewrites kernel.json too."""
    modules = (kernel_launcher, script_block, script_envs)
    files = {
        f"{m.__name__.rsplit('.', 1)[-1]}.py": Path(str(m.__file__)).read_text("utf-8")
        for m in modules
    }
    launcher = Path(str(script_launcher.__file__)).read_text("utf-8")
    digest = hashlib.sha256("\0".join([launcher, *files.values()]).encode()).hexdigest()[:12]
    return {**files, f"uvkernel_script_{digest}.py": launcher}


@functools.lru_cache(maxsize=1)
def launcher_source() -> str:
    """The text of the launcher copied into every spec dir."""
    return Path(kernel_launcher.__file__).read_text("utf-8")


def kernel_logos(env: Environment) -> list[str]:
    """The env's own ipykernel logos, so the launcher shows the Python logo, not a letter."""
    if not env.venv:
        return []
    site = site_packages_dir(env.venv, env.python)
    resources = os.path.join(site, "ipykernel", "resources") if site else ""
    try:
        return [e.path for e in os.scandir(resources) if e.name.startswith("logo-")]
    except OSError:
        return []


def _spec_files(spec: dict[str, Any]) -> dict[str, str]:
    """File name -> text of everything a spec dir holds besides logos."""
    owner = spec.get("metadata", {}).get(OWNER_KEY) or {}
    launcher = (
        script_launcher_files()
        if owner.get("kind") == SCRIPT_KERNEL_KIND
        else {LAUNCHER_FILE: launcher_source()}
    )
    return {**launcher, "kernel.json": json.dumps(spec, indent=1, sort_keys=True) + "\n"}


def _current(target: Path, spec: dict[str, Any], files: dict[str, str]) -> bool:
    try:
        if json.loads((target / "kernel.json").read_text("utf-8")) != spec:
            return False
    except (OSError, ValueError):
        return False
    # The launcher's version is in its name in argv, so a kernel.json that matches was
    # written with this launcher; a deleted file is the one thing left to see.
    return all((target / name).is_file() for name in files)


def _replace_file(directory: Path, name: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_spec_atomically(
    kernel_dir: Path, name: str, spec: dict[str, Any], logos: list[str] | None = None
) -> bool:
    """Write ``<kernel_dir>/<name>/`` (kernel.json and the launcher); return False when it
    already held exactly that.

    ``logos`` are copied into a new spec dir (existing ones keep what they have)."""
    target = kernel_dir / name
    files = _spec_files(spec)
    if _current(target, spec, files):
        return False
    kernel_dir.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        # The launcher first: kernel.json, written last, is what makes the new argv live.
        for file_name in sorted(files, key=lambda n: n == "kernel.json"):
            _replace_file(target, file_name, files[file_name])
        for old in target.glob("uvkernel_*.py"):
            if old.name not in files:  # an older launcher the new argv no longer names
                with contextlib.suppress(OSError):
                    old.unlink()
        return True
    # A new spec: build it in the staging dir and rename the whole dir into place, so a
    # reader never sees a spec dir without its kernel.json.
    tmpdir = tempfile.mkdtemp(prefix=f"{name}.", dir=_staging_dir(kernel_dir))
    try:
        for file_name, text in files.items():
            (Path(tmpdir) / file_name).write_text(text, "utf-8")
        for logo in logos or ():
            with contextlib.suppress(OSError):
                shutil.copyfile(logo, os.path.join(tmpdir, os.path.basename(logo)))
        os.chmod(tmpdir, 0o755)
        try:
            os.rename(tmpdir, target)
        except OSError:
            # Another server created it in the meantime: its content is ours too (same
            # inputs, same output), so just make sure it is current.
            shutil.rmtree(tmpdir, ignore_errors=True)
            return write_spec_atomically(kernel_dir, name, spec, logos)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return True


def _staging_dir(kernel_dir: Path) -> str:
    """Where spec dirs are built and taken apart: a subdirectory, not a sibling, because
    jupyter_client lists *every* child of a kernels dir that holds a kernel.json, hidden
    names included. Renames between it and the kernels dir are atomic (same filesystem)."""
    staging = kernel_dir / STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    return str(staging)


def remove_spec_dir(directory: str) -> None:
    """Remove a spec dir by moving it out of the listing first, so readers never see it
    half-deleted."""
    parent = Path(directory).parent
    aside = tempfile.mkdtemp(prefix="removing.", dir=_staging_dir(parent))
    try:
        os.rename(directory, os.path.join(aside, "spec"))
    except FileNotFoundError:
        pass  # someone else removed it
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def spec_environment_exists(spec: SpecOnDisk) -> bool:
    """Cheap check that an owned spec's environment still exists and works."""
    if spec.is_fixed_kernel:
        return True  # it has no environment of its own; it finds one at start
    argv = spec.data.get("argv") or []
    return bool(argv) and isinstance(argv[0], str) and os.path.exists(argv[0])
