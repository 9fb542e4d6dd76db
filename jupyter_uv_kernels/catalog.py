"""The domain layer the CLI and the server share: scan, inspect, create, change, register.

There is one such layer. The CLI calls it directly; the server's service
(:mod:`service`) calls the same methods inside operations. It owns one configuration, one
uv runner (the only place uv command lines are built) and one kernelspec reconciler. It
validates every user-supplied path and requirement (:mod:`user_input`) before anything
reaches the filesystem or uv, and it raises only typed errors from :mod:`errors`. It knows
nothing about HTTP, tornado or queues. A new action on environments (say, an upgrade)
starts here, as a method that calls the uv runner; the service then offers it as an
operation and a handler as a route.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .config import UvKernels
from .create_target import check_create_target, make_parent_folders, undo_create
from .dependencies import annotate_packages, removal_options
from .discovery import ScanOptions, ScanResult
from .environments import (
    Environment,
    incomplete_distributions,
    inspect_environment,
    read_pyvenv_cfg,
    slugify,
)
from .errors import (
    Conflict,
    InvalidRequest,
    InvalidRequirement,
    NotAnEnvironment,
    OutsideRoots,
    UvFailed,
)
from .indexes import Index, known_indexes, resolve_index
from .kernelspecs import KernelspecReconciler, ReconcileResult
from .pythons import resolve_python
from .requirement_files import RequirementsFile, check_requirements_file
from .rollback import project_change
from .scan_share import default_directory, forget_shared, shared_scan
from .user_input import parse_package_names, parse_requirements, validate_path_string
from .uvrunner import LineCallback, UvRunner

__all__ = [
    "EnvironmentCatalog",
    "check_create_target",
    "parse_package_names",
    "parse_requirements",
    "validate_path_string",
]


class EnvironmentCatalog:
    """Everything the CLI and the REST API can do to environments, in one place."""

    def __init__(self, config: UvKernels, *, fallback_root: str | None = None) -> None:
        self.config = config
        self.fallback_root = fallback_root
        self.runner = UvRunner(config)
        self.reconciler = KernelspecReconciler(
            config.effective_kernelspec_dir(),
            project_kernel=config.project_kernel,
            script_kernel=config.script_kernel,
        )

    # -- roots and paths -------------------------------------------------------------------

    @property
    def roots(self) -> list[Path]:
        roots: list[Path] = self.config.effective_roots(self.fallback_root)
        return roots

    def real_roots(self) -> list[str]:
        return [os.path.realpath(r) for r in self.roots]

    def root_of(self, real_path: str) -> str | None:
        """The configured root (as configured, not resolved) that contains ``real_path``."""
        for root, real_root in zip(self.roots, self.real_roots(), strict=True):
            if real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep):
                return str(root)
        return None

    def confine(self, value: object, what: str = "path") -> str:
        """Resolve a user-supplied path and insist it lies inside a root; returns the realpath.

        Relative paths are taken relative to the first root. ``..`` and symlinks are
        resolved first, so neither can lead outside.
        """
        text = validate_path_string(value, what)
        roots = self.roots
        joined = os.path.join(roots[0], os.path.expanduser(text)) if roots else text
        real = os.path.realpath(joined)
        if self.root_of(real) is None:
            shown = ", ".join(str(r) for r in roots)
            raise OutsideRoots(
                f"{text} resolves to {real}, which is outside the configured roots ({shown}); "
                "choose a location inside a root or add one with c.UvKernels.roots."
            )
        return real

    # -- discovery -------------------------------------------------------------------------

    def scan(self, *, fresh: bool = False) -> ScanResult:
        """Walk the roots, or reuse another process's recent walk of the same roots and
        pruning (``scan_share_seconds``; :mod:`scan_share`). ``fresh`` always walks (an
        explicit "look again now"); a complete walk is shared either way."""
        options = ScanOptions.from_config(self.config, self.roots)
        return shared_scan(options, max_age=self.config.scan_share_seconds, fresh=fresh)

    def reconcile(self, result: ScanResult) -> ReconcileResult:
        return self.reconciler.reconcile(
            result.environments, scanned_roots=result.roots, complete=not result.partial
        )

    def refresh(self, *, fresh: bool = False) -> tuple[ScanResult, ReconcileResult]:
        result = self.scan(fresh=fresh)
        return result, self.reconcile(result)

    def inspect(self, path: str) -> Environment:
        """The record for one directory that is a uv project or a venv (NotAnEnvironment if not)."""
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isdir(path):
            raise NotAnEnvironment(f"{path} does not exist or is not a directory.")
        real = os.path.realpath(path)
        root = self.root_of(real)
        if os.path.isdir(os.path.join(path, "conda-meta")):
            raise NotAnEnvironment(
                f"{path} is a conda environment; jupyter_uv_kernels manages uv projects and venvs "
                "(nb_conda_kernels or `python -m ipykernel install` serve conda envs)."
            )
        if os.path.exists(os.path.join(path, "pyvenv.cfg")):
            return inspect_environment(path, "venv", root=root)
        if os.path.isfile(os.path.join(path, "pyproject.toml")):
            has_lock = os.path.isfile(os.path.join(path, "uv.lock"))
            cfg = read_pyvenv_cfg(os.path.join(path, ".venv"))
            if has_lock or (cfg is not None and "uv" in cfg):
                return inspect_environment(path, "project", root=root)
            raise NotAnEnvironment(
                f"{path} has a pyproject.toml but is not a uv project (no uv.lock and no uv "
                f"made .venv); run `uv lock` there first."
            )
        raise NotAnEnvironment(
            f"{path} is neither a uv project (pyproject.toml + uv.lock) nor a virtual "
            "environment (pyvenv.cfg)."
        )

    def register(
        self, env: Environment, *, name: str | None = None, display_name: str | None = None
    ) -> str:
        kernel: str = self.reconciler.register(env, name=name, display_name=display_name)
        return kernel

    # -- operations that run uv -------------------------------------------------------------

    async def create(
        self,
        path: str,
        *,
        kind: str = "project",
        python: str | None = None,
        packages: Iterable[str] = (),
        requirements_file: str | None = None,
        index: str | None = None,
        on_line: LineCallback | None = None,
        register: bool = True,
    ) -> Environment:
        """Create a project (``uv init`` + ``uv add ipykernel PKG…``) or a venv (``uv venv``
        + ``uv pip install ipykernel PKG…``), then register its kernel.

        A requirements file is installed after ipykernel (``uv add -r`` / ``uv pip install
        -r``); with an index, ipykernel comes first on its own and the packages and file
        from that index. ``path`` must not exist, or be an empty directory. If anything
        fails, only what this call created is removed.
        """
        if kind not in ("project", "venv"):
            raise InvalidRequest(f"kind must be 'project' or 'venv', not {kind!r}.")
        reqs = parse_requirements(list(packages))
        file = await asyncio.to_thread(self.requirements_file, requirements_file, kind == "project")
        chosen = resolve_index(index, self.config.indexes)
        if chosen and not reqs and file is None:
            raise InvalidRequest("index names where packages come from; give packages or a file.")
        target = os.path.abspath(path)
        existed = await asyncio.to_thread(check_create_target, target)
        interpreter = await resolve_python(self.runner, python)
        names = {canonicalize_name(Requirement(r).name) for r in reqs}
        wanted = reqs if "ipykernel" in names else ["ipykernel", *reqs]
        first, later = (["ipykernel"], reqs) if chosen else (wanted, [])
        made_parent = await asyncio.to_thread(make_parent_folders, target)
        try:
            if kind == "project":
                # uv rejects directory names that are not package names ("Ünïcode proj").
                name = slugify(os.path.basename(target), limit=100)
                await self.runner.init_project(
                    target, name=name, python=interpreter, on_line=on_line
                )
                if interpreter:
                    # `uv init --python PATH` pins only "3.12" in .python-version (portable,
                    # as it should be); the next uv command would then look for a 3.12 on
                    # its own and may find a pyenv shim or try a download. Making .venv from
                    # the chosen interpreter first means uv reuses it: the env gets exactly
                    # the Python the user picked.
                    await self.runner.create_venv(
                        os.path.join(target, ".venv"), python=interpreter, on_line=on_line
                    )
            else:
                await self.runner.create_venv(target, python=interpreter, on_line=on_line)
            await self._install(kind, target, first, None, None, on_line)
            if file is not None or later:
                await self._install(kind, target, later, file, chosen, on_line)
        except BaseException:
            # Shielded: a cancelled create must still clean up before the cancel goes on.
            await asyncio.shield(asyncio.to_thread(undo_create, target, existed, made_parent))
            raise
        return await self.created(target, register=register)

    async def created(self, target: str, *, register: bool) -> Environment:
        """The record of a just-made environment (create, copy), its kernel registered."""
        env = await asyncio.to_thread(self.inspect, target)
        if register and env.gets_kernel:
            await asyncio.to_thread(self.register, env)
        # A shared walk no longer lists everything: the next scan of any process walks.
        options = ScanOptions.from_config(self.config, self.roots)
        await asyncio.to_thread(forget_shared, default_directory(), options)
        return env

    async def ensure_ipykernel(
        self, env: Environment, *, on_line: LineCallback | None = None
    ) -> Environment:
        """``uv add --dev ipykernel`` for a project (so ``uv sync`` keeps it), ``uv pip
        install`` for a venv; returns the re-inspected record."""
        if env.kind == "project":
            async with self._project_change(env, on_line):
                await self.runner.add(env.path, ["ipykernel"], dev=True, on_line=on_line)
        else:
            assert env.venv is not None
            await self.runner.pip_install(env.venv, ["ipykernel"], on_line=on_line)
        return await asyncio.to_thread(self.inspect, env.path)

    async def sync(
        self, env: Environment, *, relock: bool = False, on_line: LineCallback | None = None
    ) -> Environment:
        if env.kind != "project":
            raise InvalidRequest(
                f"{env.path} is a venv without a lock file; there is nothing to sync. Use "
                "package add/remove (uv pip) instead."
            )
        # uv counts a half-installed package (an earlier run was killed) as installed:
        # name those for reinstalling, or the sync "succeeds" and the import still fails.
        broken = await asyncio.to_thread(incomplete_distributions, env.venv) if env.venv else []
        if broken and on_line is not None:
            on_line(
                "info",
                f"Reinstalling {', '.join(broken)}: an earlier install was interrupted and "
                "left them incomplete.",
            )
        await self.runner.sync(env.path, relock=relock, reinstall=broken, on_line=on_line)
        return await asyncio.to_thread(self.inspect, env.path)

    def _project_change(
        self, env: Environment, on_line: LineCallback | None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """``uv add``/``uv remove`` that does not complete: files restored, env re-synced."""
        return project_change(env.path, lambda: self.sync(env, on_line=on_line), on_line)

    async def check_sync(self, env: Environment) -> dict[str, Any]:
        """The exact drift answer: ``uv sync --check`` (projects only)."""
        if env.kind != "project":
            return {"checked": False, "in_sync": None, "output": "venvs have no lock file"}
        result = await self.runner.sync_check(env.path)
        output = "\n".join(x for x in (result.stdout, result.stderr) if x).strip()
        broken = await asyncio.to_thread(incomplete_distributions, env.venv) if env.venv else []
        if broken:
            output += (
                f"\nIncomplete (an install was interrupted): {', '.join(broken)}; "
                f"`uv sync --reinstall-package NAME` (or a sync from here) repairs them."
            )
        return {"checked": True, "in_sync": result.returncode == 0 and not broken, "output": output}

    async def add_packages(
        self,
        env: Environment,
        packages: object,
        *,
        requirements_file: str | None = None,
        index: str | None = None,
        on_line: LineCallback | None = None,
    ) -> Environment:
        """``uv add [--index] [-r FILE] PKG…`` (projects: undone if it does not complete) or
        ``uv pip install [--index URL] [-r FILE] PKG…`` (venvs)."""
        reqs = parse_requirements(packages)
        project = env.kind == "project"
        file = await asyncio.to_thread(self.requirements_file, requirements_file, project)
        if not reqs and file is None:
            raise InvalidRequirement(
                "No packages given; name at least one requirement or a requirements_file."
            )
        chosen = await asyncio.to_thread(
            resolve_index, index, self.config.indexes, env.path if project else None
        )
        if project:
            async with self._project_change(env, on_line):
                await self._install(env.kind, env.path, reqs, file, chosen, on_line)
        else:
            assert env.venv is not None
            await self._install(env.kind, env.venv, reqs, file, chosen, on_line)
        return await asyncio.to_thread(self.inspect, env.path)

    def requirements_file(self, value: str | None, for_project: bool) -> RequirementsFile | None:
        """A requirements file inside the roots that :mod:`requirement_files` accepts."""
        if not value:
            return None
        real = self.confine(value, "requirements_file")
        inside = lambda p: self.root_of(p) is not None  # noqa: E731
        return check_requirements_file(real, inside=inside, for_project=for_project)

    async def _install(
        self, kind: str, target: str, reqs: list[str], file: RequirementsFile | None,
        index: Index | None, on_line: LineCallback | None,
    ) -> None:  # fmt: skip
        """One ``uv add`` (project ``target``) or ``uv pip install`` (venv ``target``)."""
        path = file.path if file is not None else None
        if kind == "project":
            pair = (index.name, index.url) if index is not None else None
            await self.runner.add(target, reqs, requirements_file=path, index=pair, on_line=on_line)
        else:
            url = index.url if index is not None else None
            await self.runner.pip_install(
                target, reqs, requirements_file=path, index_url=url, on_line=on_line
            )

    async def remove_packages(
        self,
        env: Environment,
        packages: object,
        *,
        force: bool = False,
        on_line: LineCallback | None = None,
    ) -> Environment:
        names = parse_package_names(packages)
        if not names:
            raise InvalidRequirement("No packages given; name at least one package to remove.")
        if "ipykernel" in {canonicalize_name(n) for n in names} and env.kernel:
            raise Conflict(
                f"Removing ipykernel would break the kernel {env.kernel}; unregister the kernel "
                "first if you really want that."
            )
        options = [await removal_options(self.runner, env, n, force=force) for n in names]
        if env.kind == "project":
            async with self._project_change(env, on_line):
                for name, name_options in zip(names, options, strict=True):
                    await self.runner.remove(
                        env.path, [name], options=name_options, on_line=on_line
                    )
        else:
            assert env.venv is not None
            await self.runner.pip_uninstall(env.venv, names, on_line=on_line)
        return await asyncio.to_thread(self.inspect, env.path)

    async def details(self, env: Environment) -> dict[str, Any]:
        """Installed packages, exact drift and ``uv pip check`` for the detail view."""
        own = env.path if env.kind == "project" else None
        known = await asyncio.to_thread(known_indexes, self.config.indexes, own)
        out: dict[str, Any] = {"packages": [], "drift": None, "pip_check": None}
        out["indexes"] = [i.to_json() for i in known]
        if not env.venv or env.status in ("no-environment", "broken"):
            return out
        try:
            out["packages"] = await self.runner.pip_list(env.venv)
            if env.kind == "project":
                # Reads pyproject.toml: off the event loop, like every other file read here.
                out["packages"] = await asyncio.to_thread(
                    annotate_packages, env.path, out["packages"]
                )
        except UvFailed as e:
            out["packages_error"] = e.message
        out["drift"] = await self.check_sync(env)
        check = await self.runner.pip_check(env.venv)
        out["pip_check"] = {
            "ok": check.returncode == 0,
            "output": "\n".join(x for x in (check.stdout, check.stderr) if x).strip(),
        }
        return out
