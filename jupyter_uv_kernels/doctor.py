"""``jupyter uvkernel doctor``: checks the setup and says how to fix each problem.

Each finding is ``{"check", "level": "ok"|"warning"|"error", "message", "fix"}``; the CLI
prints them or emits JSON and exits 1 when any finding is an error.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from jupyter_core.paths import jupyter_path

from .catalog import EnvironmentCatalog
from .environments import Environment
from .errors import UvKernelsError
from .kernelspecs import spec_environment_exists

Level = Literal["ok", "warning", "error"]


@dataclass
class Finding:
    check: str
    level: Level
    message: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _uv_cache_dir(env_cache: str) -> tuple[str, str]:
    """Where uv's cache is and why: (path, source)."""
    if env_cache:
        return env_cache, "UV_CACHE_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "uv"), "XDG_CACHE_HOME"
    return os.path.expanduser("~/.cache/uv"), "uv's default"


def _existing_ancestor(path: str) -> str:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return str(p)


def _under(path: str, parent: str) -> bool:
    path, parent = os.path.realpath(path), os.path.realpath(parent)
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


async def run_doctor(catalog: EnvironmentCatalog) -> list[Finding]:
    findings: list[Finding] = []
    config = catalog.config

    # uv: found, version, source
    try:
        uv = catalog.runner.uv
        source = (
            "UvKernels.uv"
            if config.uv
            else ("PATH" if shutil.which("uv") == uv else "the uv Python package")
        )
        version = await catalog.runner.version()
        findings.append(Finding("uv", "ok", f"{version} at {uv} (from {source})"))
    except UvKernelsError as e:
        findings.append(Finding("uv", "error", e.message, "module load uv  (or: pip install uv)"))

    # uv cache: where, under $HOME (quota), same filesystem as the roots (hardlinks)
    env_cache = os.path.expanduser(config.uv_cache_dir) if config.uv_cache_dir else ""
    env_cache = env_cache or os.environ.get("UV_CACHE_DIR", "")
    cache, why = _uv_cache_dir(env_cache)
    home = os.path.expanduser("~")
    scratch_fix = (
        "export UV_CACHE_DIR=/glade/derecho/scratch/$USER/uv-cache  (or c.UvKernels.uv_cache_dir)"
    )
    if _under(cache, home):
        findings.append(
            Finding(
                "uv cache",
                "warning",
                f"The uv cache is {cache} ({why}), under $HOME, whose quota is small; "
                "a few environments can fill it.",
                scratch_fix,
            )
        )
    else:
        findings.append(Finding("uv cache", "ok", f"The uv cache is {cache} ({why})."))
    try:
        cache_dev = os.stat(_existing_ancestor(cache)).st_dev
        other = [str(r) for r in catalog.roots if r.exists() and os.stat(r).st_dev != cache_dev]
        if other:
            findings.append(
                Finding(
                    "uv cache filesystem",
                    "warning",
                    f"The uv cache and the root(s) {', '.join(other)} are on different "
                    "filesystems, so uv copies packages instead of hardlinking them: installs "
                    "are slower and use twice the disk.",
                    "put UV_CACHE_DIR on the same filesystem as your environments, or set "
                    "UV_LINK_MODE=copy to silence uv's warning",
                )
            )
    except OSError:
        pass

    # conda leakage
    conda = os.environ.get("CONDA_PREFIX")
    if conda:
        findings.append(
            Finding(
                "conda",
                "warning",
                f"A conda environment is active ({conda}). uv treats CONDA_PREFIX as the active "
                "environment; jupyter_uv_kernels removes it for uv and kernels, but your shell "
                "still has it.",
                "conda deactivate  (before running uv by hand)",
            )
        )
    else:
        findings.append(Finding("conda", "ok", "No conda environment is active."))

    # roots
    for root in catalog.roots:
        if not root.is_dir():
            findings.append(
                Finding(
                    "root",
                    "error",
                    f"The root {root} does not exist.",
                    "create it, or fix c.UvKernels.roots / --root",
                )
            )
        elif not os.access(root, os.R_OK | os.X_OK):
            findings.append(
                Finding("root", "error", f"The root {root} is not readable.", f"chmod u+rx {root}")
            )
    result = catalog.scan(fresh=True)  # doctor measures a walk: never a reused one
    counts = Counter(e.status for e in result.environments)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
    findings.append(
        Finding(
            "environments",
            "warning" if result.partial else "ok",
            f"{len(result.environments)} environments under "
            f"{', '.join(str(r) for r in catalog.roots)} ({summary}); scanned "
            f"{result.directories} directories in {result.duration:.2f} s"
            + (" — PARTIAL: the scan hit its time budget." if result.partial else "."),
            "raise c.UvKernels.scan_time_budget, lower max_depth or add prune names"
            if result.partial
            else None,
        )
    )
    catalog.reconciler.annotate(result.environments)
    findings += _environment_findings(result.environments)
    broken = [e for e in result.environments if e.status == "broken"]
    if broken:
        shown = "; ".join(f"{e.path}: {e.problem}" for e in broken[:3])
        more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
        findings.append(
            Finding(
                "broken environments",
                "warning",
                f"{len(broken)} environments cannot start a kernel{more}. {shown}",
                broken[0].problem,
            )
        )
    if result.skipped:
        findings.append(
            Finding(
                "unreadable",
                "warning",
                f"{len(result.skipped)} directories could not be read, e.g. {result.skipped[0]}.",
                "fix their permissions or add their names to c.UvKernels.prune",
            )
        )

    # kernelspec dir
    kdir = catalog.reconciler.kernel_dir
    probe_dir = kdir if kdir.exists() else Path(_existing_ancestor(str(kdir)))
    if os.access(probe_dir, os.W_OK | os.X_OK):
        findings.append(Finding("kernelspec dir", "ok", f"{kdir} is writable."))
    else:
        findings.append(
            Finding(
                "kernelspec dir",
                "error",
                f"{kdir} is not writable, so kernels cannot be registered.",
                f"chmod u+w {probe_dir}  (or set c.UvKernels.kernelspec_dir)",
            )
        )
    searched = {os.path.realpath(p) for p in jupyter_path("kernels")}
    if os.path.realpath(kdir) not in searched:
        data_dir = kdir.parent if kdir.name == "kernels" else None
        findings.append(
            Finding(
                "kernelspec search path",
                "warning",
                f"{kdir} is not where Jupyter looks for kernels (`jupyter --paths`), so Jupyter, "
                "nbconvert and papermill will not list the kernels written there.",
                f"export JUPYTER_PATH={data_dir}  (or unset c.UvKernels.kernelspec_dir)"
                if data_dir
                else "set c.UvKernels.kernelspec_dir to a 'kernels' directory under a Jupyter "
                "data path, or unset it",
            )
        )
    stale = [
        s.name for s in catalog.reconciler.owned_specs().values() if not spec_environment_exists(s)
    ]
    if stale:
        findings.append(
            Finding(
                "stale kernels",
                "warning",
                f"{len(stale)} kernelspecs point at environments that are gone: "
                f"{', '.join(sorted(stale))}.",
                "jupyter uvkernel refresh",
            )
        )
    return findings


#: (check, which environments, what they have in common, the fix for the first one).
_NEEDS_THE_USER: list[tuple[str, Callable[[Environment], bool], str, str]] = [
    (
        "no environment",
        lambda e: e.status == "no-environment",
        "projects have a uv.lock but no .venv yet, so no kernel",
        "jupyter uvkernel sync {path}",
    ),
    (
        "no ipykernel",
        lambda e: e.status == "needs-ipykernel",
        "environments have no ipykernel, so no kernel",
        "jupyter uvkernel install {path}",
    ),
    (
        "no kernel",
        lambda e: e.gets_kernel and not e.kernel,
        "environments could run a kernel but have none registered (unregistered, or not "
        "refreshed since they were made)",
        "jupyter uvkernel install {path}  (or jupyter uvkernel refresh)",
    ),
]


def _environment_findings(envs: list[Environment]) -> list[Finding]:
    """Environments that need the user: no env yet, no ipykernel, or no kernel."""
    out = []
    for check, selects, text, fix in _NEEDS_THE_USER:
        chosen = [e for e in envs if selects(e)]
        if chosen:
            shown = ", ".join(e.path for e in chosen[:3])
            more = f" and {len(chosen) - 3} more" if len(chosen) > 3 else ""
            message = f"{len(chosen)} {text}: {shown}{more}."
            out.append(Finding(check, "warning", message, fix.format(path=chosen[0].path)))
    return out
