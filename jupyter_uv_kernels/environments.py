"""The environment record (ARCHITECTURE §3) and the cheap checks that fill it in.

Everything here works from file metadata: reading pyvenv.cfg, looking for the interpreter
and for ipykernel in site-packages, and comparing mtimes. Nothing runs a subprocess, so
listing a thousand environments costs a few thousand ``stat`` calls, not a thousand
Python start-ups. The exact drift answer (``uv sync --check``) is run on demand elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Kind = Literal["project", "venv"]
Status = Literal["ready", "needs-ipykernel", "no-environment", "out-of-sync", "broken"]

#: Statuses whose environments get a kernelspec.
KERNEL_STATUSES: frozenset[str] = frozenset({"ready", "out-of-sync"})

#: Venv directory names that say nothing about what the environment is for; such a venv
#: is named after its parent directory instead.
GENERIC_VENV_NAMES = frozenset({".venv", "venv", ".env", "env", "virtualenv"})


@dataclass
class Environment:
    """One discovered environment. ``to_json`` gives the shape the CLI and REST share."""

    id: str
    name: str
    path: str
    kind: Kind
    venv: str | None
    python: str | None
    has_ipykernel: bool
    status: Status
    kernel: str | None = None
    problem: str | None = None
    root: str | None = None
    relpath: str | None = None
    interpreter: str | None = None
    uv_managed: bool = False
    workspace_members: list[str] = field(default_factory=list)
    read_only: bool = False

    def to_json(self) -> dict[str, Any]:
        # Shallow (the fields are strings, booleans, None and one list of strings): asdict's
        # deep copy made a listing of 1,000 environments cost 30 ms on the event loop.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["workspace_members"] = list(self.workspace_members)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Environment:
        """The record ``to_json`` gave (a shared walk's file). Keys it does not know are
        ignored; a missing required key or a value of the wrong type raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"an environment record is an object, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        try:
            env = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as e:  # a required key is missing
            raise ValueError(str(e)) from None
        texts = (env.id, env.name, env.path, env.kind, env.status)
        if not all(isinstance(t, str) for t in texts) or not isinstance(
            env.workspace_members, list
        ):
            raise ValueError(f"an environment record with fields of the wrong type: {data!r}")
        return env

    @property
    def gets_kernel(self) -> bool:
        return self.status in KERNEL_STATUSES


def environment_id(path: str | os.PathLike[str]) -> str:
    """Stable id of an environment: derived from its realpath, never from scan order."""
    real = os.path.realpath(path)
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def slugify(name: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:limit].strip("-") or "env"


def kernel_name_for(env_path: str, name: str) -> str:
    """``uv-<slug>-<8 hex of sha256(realpath)>``: stable, unique and independent of order."""
    return f"uv-{slugify(name)}-{environment_id(env_path)[:8]}"


def read_pyvenv_cfg(venv: str) -> dict[str, str] | None:
    """Parse ``pyvenv.cfg`` into a dict, or None when it is missing or unreadable."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8", errors="replace") as f:
            text = f.read(16384)
    except OSError:
        return None
    cfg: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def python_version_from_cfg(cfg: dict[str, str]) -> str | None:
    # uv writes ``version_info``, the stdlib venv module ``version``, virtualenv both.
    return cfg.get("version_info") or cfg.get("version") or None


def venv_interpreter(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def site_packages_dir(venv: str, version: str | None) -> str | None:
    if version:
        parts = version.split(".")
        if len(parts) >= 2:
            candidate = os.path.join(venv, "lib", f"python{parts[0]}.{parts[1]}", "site-packages")
            if os.path.isdir(candidate):
                return candidate
    # pyvenv.cfg did not tell us (or lied): look at what lib/ holds.
    try:
        with os.scandir(os.path.join(venv, "lib")) as it:
            for entry in it:
                if entry.name.startswith("python"):
                    candidate = os.path.join(entry.path, "site-packages")
                    if os.path.isdir(candidate):
                        return candidate
    except OSError:
        pass
    return None


_DIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def incomplete_distributions(venv: str) -> list[str]:
    """Names of installed distributions whose files are not all on disk.

    An install stopped part-way (SIGKILL, a node crash, a cancelled or timed-out operation)
    can leave a ``*.dist-info`` without its METADATA or without files its RECORD lists. uv
    still counts such a package as installed, so ``uv sync`` and ``uv sync --check`` both
    report nothing to do while ``import`` fails. Costs one ``lstat`` per installed file:
    meant for operations and on-demand checks, never for listings.
    """
    site = site_packages_dir(venv, python_version_from_cfg(read_pyvenv_cfg(venv) or {}))
    if site is None:
        return []
    broken: set[str] = set()
    try:
        entries = [e for e in os.scandir(site) if e.name.endswith(".dist-info")]
    except OSError:
        return []
    for entry in entries:
        name = entry.name[: -len(".dist-info")].partition("-")[0]
        if not _DIST_NAME.match(name):
            continue
        try:
            with open(os.path.join(entry.path, "RECORD"), encoding="utf-8") as f:
                record = f.read()
            complete = os.path.isfile(os.path.join(entry.path, "METADATA"))
        except (OSError, UnicodeDecodeError):
            complete = False
            record = ""
        for line in record.splitlines():
            if not complete:
                break
            listed = line.partition(",")[0].strip()
            if listed and not os.path.lexists(os.path.normpath(os.path.join(site, listed))):
                complete = False
        if not complete:
            broken.add(name.replace("_", "-").replace(".", "-").lower())
    return sorted(broken)


def display_env_name(path: str, kind: Kind) -> str:
    base = os.path.basename(os.path.normpath(path))
    if kind == "venv" and base in GENERIC_VENV_NAMES:
        parent = os.path.basename(os.path.dirname(os.path.normpath(path)))
        return parent or base
    return base


def inspect_environment(
    path: str,
    kind: Kind,
    *,
    root: str | None = None,
    cfg: dict[str, str] | None = None,
    workspace_members: list[str] | None = None,
) -> Environment:
    """Build the record for one environment from cheap file checks.

    ``path`` is the project directory (kind ``project``) or the venv directory (kind
    ``venv``). ``cfg`` may be passed when the caller already parsed the venv's pyvenv.cfg.
    """
    path = os.path.abspath(path)
    venv = os.path.join(path, ".venv") if kind == "project" else path
    name = display_env_name(path, kind)
    relpath = os.path.relpath(path, root) if root else None
    env = Environment(
        id=environment_id(path),
        name=name,
        path=path,
        kind=kind,
        venv=venv,
        python=None,
        has_ipykernel=False,
        status="ready",
        root=root,
        relpath=relpath,
        workspace_members=list(workspace_members or []),
        # One access() per environment: a group's shared env is listed as read-only.
        read_only=not os.access(path, os.W_OK),
    )
    if cfg is None:
        cfg = read_pyvenv_cfg(venv)
    if cfg is None:
        if kind == "project" and not os.path.lexists(venv):
            env.venv = None
            env.status = "no-environment"
            env.problem = f"The project has no .venv yet; run `uv sync --frozen` in {path}."
        else:
            env.status = "broken"
            env.problem = (
                f"{venv}/pyvenv.cfg is missing or unreadable; recreate the environment "
                f"with `uv venv {venv}` (then `uv sync` for a project)."
            )
        return env

    env.uv_managed = "uv" in cfg
    env.python = python_version_from_cfg(cfg)
    interpreter = venv_interpreter(venv)
    env.interpreter = interpreter
    # os.path.exists follows the symlink chain, so a dangling base interpreter fails here.
    if not os.path.exists(interpreter):
        env.status = "broken"
        home = cfg.get("home", "its base interpreter")
        env.problem = (
            f"The interpreter {interpreter} does not resolve (the Python in {home} is gone); "
            + (
                f"recreate it with `uv venv --clear {venv}` then `uv sync` in {path}."
                if kind == "project"
                else f"recreate it with `uv venv --clear {venv}` and reinstall its packages."
            )
        )
        return env

    site = site_packages_dir(venv, env.python)
    env.has_ipykernel = bool(site) and os.path.isdir(os.path.join(site, "ipykernel"))  # type: ignore[arg-type]
    if not env.has_ipykernel:
        env.status = "needs-ipykernel"
        env.problem = f"ipykernel is not installed; run `jupyter uvkernel install {path}`" + (
            " (it runs `uv add --dev ipykernel`)." if kind == "project" else "."
        )
        return env

    if kind == "project":
        drift = estimate_drift(path, venv, site)  # type: ignore[arg-type]
        if drift:
            env.status = "out-of-sync"
            env.problem = drift
    return env


def estimate_drift(project: str, venv: str, site_packages: str) -> str | None:
    """A cheap guess at whether a project's .venv lags its lock, from mtimes.

    uv rewrites uv.lock when dependencies change and touches site-packages when it
    installs or removes anything, so a lock newer than both the venv and site-packages
    means a sync is due. The exact answer is ``uv sync --check`` (detail view, CLI, kernel
    start); this estimate only decides the badge in lists.
    """
    lock = _mtime(os.path.join(project, "uv.lock"))
    pyproject = _mtime(os.path.join(project, "pyproject.toml"))
    env_mtime = max(filter(None, (_mtime(venv), _mtime(site_packages))), default=None)
    if lock is None:
        return f"The project has no uv.lock; run `uv lock` then `uv sync` in {project}."
    if pyproject is not None and pyproject > lock + 1e-3:
        return (
            f"pyproject.toml changed after uv.lock was written; run `uv sync` in {project} "
            "to relock and install."
        )
    if env_mtime is not None and lock > env_mtime + 1e-3:
        return f"uv.lock is newer than the environment; run `uv sync --frozen` in {project}."
    return None
