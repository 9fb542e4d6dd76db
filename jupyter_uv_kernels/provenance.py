"""Provenance: which environment a notebook ran on, recorded in the notebook, checked later.

When a notebook runs on one of our kernels in JupyterLab, the panel writes a small record
under the notebook metadata key ``uv_kernels`` on save (see :data:`METADATA_KEY`):

- ``kernel``: the kernel name (``uv-project`` or ``uv-<name>-<hash>``);
- ``project``: the project's path relative to its git repository root (``.`` for the root
  itself), or null outside a repository; never an absolute path, which would not travel;
- ``lock_sha256``: the SHA-256 of the project's ``uv.lock``, or null (venvs have no lock);
- ``python``: the environment's Python version, from its ``pyvenv.cfg``;
- ``uv``: the uv version that manages it.

No timestamp, so saving again does not change the notebook unless the environment did.
``jupyter uvkernel check NOTEBOOK`` compares the record with the environment the notebook
would run on here and now (:func:`compare`). Nothing here runs a subprocess except the
caller's uv version.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from .catalog import validate_path_string
from .environments import python_version_from_cfg, read_pyvenv_cfg
from .errors import InvalidPath, InvalidRequest, OutsideRoots
from .kernel_launcher import Target, find_project
from .kernelspecs import PROJECT_KERNEL_NAME, read_spec

#: The notebook metadata key the record lives under.
METADATA_KEY = "uv_kernels"
#: What a kernel name may look like (kernelspec directory names).
MAX_KERNEL_NAME = 255


@dataclass
class Provenance:
    kernel: str
    project: str | None
    lock_sha256: str | None
    python: str | None
    uv: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def validate_kernel_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("kernel must be a kernel name such as 'uv-project'.")
    if len(value) > MAX_KERNEL_NAME or not all(c.isalnum() or c in "._-" for c in value):
        raise InvalidRequest(
            f"{value[:40]!r} is not a kernel name: use letters, digits, '.', '_' and '-'."
        )
    return value


def resolve_notebook(path: object, root: str) -> str:
    """The real path of a notebook given relative to the server's ``root``; it must stay
    inside it."""
    value = validate_path_string(path, "path")
    root_real = os.path.realpath(root)
    full = os.path.realpath(os.path.join(root_real, value.lstrip("/")))
    if full != root_real and not full.startswith(root_real.rstrip(os.sep) + os.sep):
        raise OutsideRoots(f"{value!r} is outside the server's root directory.")
    return full


def target_for_kernel(kernel: str, notebook_dir: str, kernel_dir: str) -> Target | None:
    """The environment ``kernel`` runs for a notebook in ``notebook_dir``; None when the
    kernel is not ours (or ``uv-project`` finds no project there)."""
    if kernel == PROJECT_KERNEL_NAME:
        return find_project(notebook_dir)
    spec = read_spec(kernel_dir, kernel)
    return spec.target() if spec is not None else None


def repository_relative(path: str) -> str | None:
    """``path`` relative to the nearest enclosing git work tree, or None outside one."""
    here = os.path.abspath(path)
    probe = here
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return os.path.relpath(here, probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


def lock_digest(project: str | None) -> str | None:
    if not project:
        return None
    digest = hashlib.sha256()
    try:
        with open(os.path.join(project, "uv.lock"), "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def describe(kernel: str, target: Target, uv_version: str | None) -> Provenance:
    cfg = read_pyvenv_cfg(target.venv) or {}
    return Provenance(
        kernel=kernel,
        project=repository_relative(target.project) if target.project else None,
        lock_sha256=lock_digest(target.project),
        python=python_version_from_cfg(cfg),
        uv=uv_version.split()[1] if uv_version and len(uv_version.split()) > 1 else uv_version,
    )


def compare(recorded: dict[str, Any], current: Provenance) -> tuple[list[str], list[str]]:
    """``(differences, notes)``: differences mean the environment does not match what the
    notebook ran on; notes are worth knowing but do not change results (the uv version)."""
    differences: list[str] = []
    notes: list[str] = []
    if recorded.get("project") != current.project:
        differences.append(
            f"project: the notebook ran on {recorded.get('project')!r}, here it is "
            f"{current.project!r}"
        )
    if recorded.get("lock_sha256") != current.lock_sha256:
        differences.append(
            "uv.lock differs from the one the notebook ran with (SHA-256 "
            f"{str(recorded.get('lock_sha256'))[:12]}… recorded, "
            f"{str(current.lock_sha256)[:12]}… here); check out the matching uv.lock, then "
            "`uv sync --frozen`"
        )
    if recorded.get("python") != current.python:
        differences.append(
            f"Python: the notebook ran on {recorded.get('python')}, here it is {current.python}"
        )
    if recorded.get("uv") != current.uv:
        notes.append(f"uv: {recorded.get('uv')} recorded, {current.uv} here")
    return differences, notes


def read_notebook(path: str) -> dict[str, Any]:
    """The notebook's JSON, or :class:`InvalidPath` saying what is wrong with the file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InvalidPath(f"{path} does not exist; give the path of a .ipynb file.") from None
    except (OSError, ValueError) as e:
        raise InvalidPath(f"{path} is not a readable notebook ({e}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise InvalidPath(f"{path} is not a Jupyter notebook (no metadata).")
    return data


@dataclass
class NotebookCheck:
    """The answer of ``jupyter uvkernel check NOTEBOOK``."""

    notebook: str
    kernel: str
    target: Target
    current: Provenance
    recorded: dict[str, Any] | None
    differences: list[str]
    notes: list[str]
    #: why the environment cannot run a kernel now (missing venv, no ipykernel), or None
    problem: str | None

    @property
    def matches(self) -> bool:
        return not self.differences and self.problem is None

    def lines(self) -> list[str]:
        where = self.target.project or self.target.venv
        out = [f"{self.notebook}: kernel {self.kernel} runs {where} here"]
        if self.recorded is None:
            out.append(
                "  no provenance recorded in the notebook (JupyterLab records it on save when "
                "the panel's 'Record environment provenance' setting is on)"
            )
        elif self.differences:
            out += [f"  differs: {d}" for d in self.differences]
        else:
            out.append("  matches the environment the notebook was saved with")
        out += [f"  note: {n}" for n in self.notes]
        if self.problem:
            out += ["  cannot start here: " + line for line in self.problem.splitlines()]
        return out


def check_notebook(path: str, kernel_dir: str, uv_version: str | None) -> NotebookCheck:
    """Compare a notebook's recorded provenance with what it would run on here."""
    from .kernel_launcher import LaunchError, check_target, no_project_message

    data = read_notebook(path)
    spec = data["metadata"].get("kernelspec")
    kernel = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(kernel, str) or not kernel:
        raise InvalidPath(f"{path} names no kernel in its metadata; open it in JupyterLab first.")
    folder = os.path.dirname(os.path.abspath(path))
    target = target_for_kernel(kernel, folder, kernel_dir)
    if target is None:
        if kernel == PROJECT_KERNEL_NAME:
            raise InvalidPath(no_project_message(folder))
        raise InvalidPath(
            f"{path} uses the kernel {kernel!r}, which is not a jupyter_uv_kernels kernel here; "
            "`jupyter uvkernel list` shows yours, and uv-project runs the notebook's own project."
        )
    try:
        check_target(target)
        problem = None
    except LaunchError as e:
        problem = str(e)
    current = describe(kernel, target, uv_version)
    recorded = data["metadata"].get(METADATA_KEY)
    recorded = recorded if isinstance(recorded, dict) else None
    differences, notes = compare(recorded, current) if recorded else ([], [])
    return NotebookCheck(path, kernel, target, current, recorded, differences, notes, problem)
