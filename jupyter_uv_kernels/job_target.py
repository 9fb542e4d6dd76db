"""Which file a batch job runs, and in which environment and kernel.

The file must lie inside the roots and be a notebook (``.ipynb``) or a script (``.py``).
The environment is the one asked for (an env, or a uv kernel), else the uv kernel the
notebook names in its metadata, else the uv project the file is in (``uv-project``, so the
job runs in whichever clone it is in), else, for a file that carries its own dependencies
(a PEP 723 block, juv's format), those: a notebook runs on the ``uv-script`` kernel and a
script with ``uv run --script``, with no project at all. This module never imports tornado.
"""

from __future__ import annotations

import os

from .catalog import EnvironmentCatalog
from .environments import Environment
from .errors import Conflict, InvalidPath, InvalidRequest
from .kernel_launcher import Target, find_project
from .kernelspec_files import PROJECT_KERNEL_NAME, SCRIPT_KERNEL_NAME
from .notebook_script import load_notebook, parse_block
from .provenance import read_notebook, target_for_kernel, validate_kernel_name
from .script_block import script_blocks
from .user_input import validate_path_string

KINDS = {".ipynb": "notebook", ".py": "script"}


def job_file(catalog: EnvironmentCatalog, base_dir: str, value: object) -> str:
    """The real path of the notebook or script, relative to ``base_dir``, inside the roots."""
    text = validate_path_string(value, "path")
    real = os.path.realpath(os.path.join(base_dir, os.path.expanduser(text)))
    real = catalog.confine(real, "path")
    ext = os.path.splitext(real)[1]
    if ext not in KINDS:
        raise InvalidPath(
            f"{text} is neither a notebook (.ipynb) nor a Python script (.py); only those "
            "run as batch jobs."
        )
    if not os.path.isfile(real):
        raise InvalidPath(f"{text} does not exist (or is not a file).")
    return real


def job_environment(
    catalog: EnvironmentCatalog, path: str, kind: str, env: Environment | None, kernel: object
) -> tuple[Target, str | None]:
    """The environment and (for notebooks) the kernel: the one asked for, else the
    notebook's own uv kernel, else the project the file is in."""
    folder = os.path.dirname(path)
    kernel_dir = str(catalog.reconciler.kernel_dir)
    if kernel:
        name = validate_kernel_name(kernel)
        if name == SCRIPT_KERNEL_NAME:
            return inline_target(path, kind), name
        target = target_for_kernel(name, folder, kernel_dir)
        if target is None:
            raise InvalidRequest(
                f"{name} is not a uv kernel that can run {os.path.basename(path)}"
                + (
                    " (uv-project finds no uv project above it)."
                    if name == PROJECT_KERNEL_NAME
                    else "; pick one from GET environments, or an environment (env)."
                )
            )
        return target, name
    if env is not None:
        target = Target(env.venv or env.path, env.path if env.kind == "project" else None)
        return target, _kernel_of(catalog, env, target, folder, kind)
    if kind == "notebook":
        spec = read_notebook(path)["metadata"].get("kernelspec")
        named = spec.get("name") if isinstance(spec, dict) else None
        if named == SCRIPT_KERNEL_NAME:
            return inline_target(path, kind), named
        if isinstance(named, str) and named:
            try:
                target = target_for_kernel(validate_kernel_name(named), folder, kernel_dir)
            except InvalidRequest:
                target = None
            if target is not None:
                return target, named
    project = find_project(folder)
    inline = own_dependencies(path, kind) if project is None else None
    if inline is not None:
        return inline, SCRIPT_KERNEL_NAME if kind == "notebook" else None
    if project is None:
        raise InvalidRequest(
            f"{os.path.basename(path)} is not in a uv project and its kernel is not a uv "
            "kernel: choose the environment to run it in (env, or --env)."
        )
    if kind == "notebook" and not catalog.config.project_kernel:
        raise InvalidRequest(
            "UvKernels.project_kernel is off, so choose the environment to run "
            f"{os.path.basename(path)} in (env, or --env)."
        )
    return project, PROJECT_KERNEL_NAME if kind == "notebook" else None


#: The Target of a file that carries its own dependencies: no venv of ours, no project.
INLINE = ""


def own_dependencies(path: str, kind: str) -> Target | None:
    """The target of a file run on its own dependencies (its PEP 723 ``script`` block; a
    notebook's in a code cell, as juv keeps it), or None when it has no block. The file is
    read once; a bad block is refused (400) before anything is submitted."""
    if kind == "notebook":
        notebook = load_notebook(path)
        if notebook.block is None:
            return None
        notebook.require_usable()
        return Target(INLINE, None)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            blocks = script_blocks(f.read(1 << 20))
    except OSError as e:
        raise InvalidPath(f"{os.path.basename(path)} cannot be read ({e.strerror or e}).") from None
    if not blocks:
        return None
    parse_block(blocks[0].group(0))  # InvalidNotebook (400) names what is wrong
    return Target(INLINE, None)


def inline_target(path: str, kind: str) -> Target:
    """:func:`own_dependencies`, for a file that must have them (the uv-script kernel)."""
    target = own_dependencies(path, kind)
    if target is None:
        raise InvalidRequest(
            f"{os.path.basename(path)} has no inline dependencies, so the "
            f"{SCRIPT_KERNEL_NAME} kernel cannot run it; add some (the panel's This notebook "
            "section, or `juv add`) or choose another kernel."
        )
    return target


def _kernel_of(
    catalog: EnvironmentCatalog, env: Environment, target: Target, folder: str, kind: str
) -> str | None:
    if kind != "notebook":
        return None
    if env.kernel is None:
        catalog.reconciler.annotate([env])  # the CLI's freshly inspected env
    if env.kernel:
        return env.kernel
    inside = find_project(folder)
    if (
        catalog.config.project_kernel
        and inside is not None
        and target.project
        and (os.path.realpath(inside.venv) == os.path.realpath(target.venv))
    ):
        return PROJECT_KERNEL_NAME
    raise Conflict(
        f"{env.path} has no kernel ({env.problem or env.status}); register it first "
        "(Register kernel in the panel, or `jupyter uvkernel install PATH`)."
    )


def check_kernel_installed(catalog: EnvironmentCatalog, kernel: str) -> None:
    """papermill in the job finds the kernel by its kernelspec file: it must be there."""
    spec = catalog.reconciler.kernel_dir / kernel / "kernel.json"
    if not spec.is_file():
        raise Conflict(
            f"The kernel {kernel} is not installed in {catalog.reconciler.kernel_dir}, so "
            "papermill in the job could not start it; run `jupyter uvkernel refresh` (or "
            "POST uv-kernels/refresh) first."
        )
