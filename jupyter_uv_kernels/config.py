"""``UvKernels``: the one configuration class, read by the server extension and the CLI alike.

Set traits in ``jupyter_server_config.py`` (``c.UvKernels.roots = [...]``), on the command
line (``--UvKernels.max_depth=4``) or, for the CLI, with the dedicated flags.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, validate
from traitlets.config import Configurable

#: Directory names never descended into (ARCHITECTURE §2). Hidden directories other than
#: ``.venv`` are pruned too, see ``UvKernels.prune_hidden``.
DEFAULT_PRUNE = (
    "node_modules",
    "__pycache__",
    "site-packages",
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ipynb_checkpoints",
)

SYNC_ON_START_MODES = ("never", "check", "sync")


def glade_work_dir() -> Path:
    """``/glade/work/$USER``: where NCAR users keep their code."""
    user = os.environ.get("USER") or getpass.getuser()
    return Path("/glade/work") / user


class UvKernels(Configurable):
    """Discovery, kernelspec and uv settings for jupyter_uv_kernels."""

    roots = List(
        Unicode(),
        default_value=[],
        help="""Directories searched for uv projects and virtual environments, and the only
        places the REST API may create or change environments.
        Example: ["/glade/work/jdoe", "/glade/campaign/univ/abc123/jdoe"].
        Empty (the default) means /glade/work/$USER when it exists, otherwise the server's
        root_dir (for the CLI: the current directory).""",
    ).tag(config=True)

    max_depth = Int(
        6,
        help="""How many directory levels below a root discovery descends (a root's own
        children are level 1). A project or venv directory deeper than this is not found.
        Example: 4. 0 means only the root directory itself is examined.""",
    ).tag(config=True)

    @validate("max_depth")
    def _valid_depth(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise ValueError(f"UvKernels.max_depth must be 0 or more, not {value}")
        return value

    prune = List(
        Unicode(),
        default_value=list(DEFAULT_PRUNE),
        help="""Directory names discovery never descends into, matched exactly against the
        base name. Example: ["node_modules", ".git", "data"]. Empty means prune nothing by
        name (hidden directories are still governed by prune_hidden).""",
    ).tag(config=True)

    prune_hidden = Bool(
        True,
        help="""Skip hidden directories (names starting with '.') other than .venv.
        Example: False to also search ~/.virtualenvs-style folders inside a root.""",
    ).tag(config=True)

    include_plain_venvs = Bool(
        True,
        help="""List virtual environments that were not made by uv (a pyvenv.cfg without a
        'uv =' line) as kind 'venv'. uv can still manage them with 'uv pip'.
        Example: False to show only uv-made environments.""",
    ).tag(config=True)

    kernelspec_dir = Unicode(
        "",
        help="""Directory the kernelspec reconciler writes kernels into.
        Example: "/glade/u/home/jdoe/.local/share/jupyter/kernels".
        Empty (the default) means the user's Jupyter data dir + '/kernels', which is where
        'jupyter kernelspec list', nbconvert and papermill look.""",
    ).tag(config=True)

    allow_python_downloads = Bool(
        False,
        help="""Let uv download a CPython build when no interpreter on this machine matches a
        project's Python request. False (the default) runs uv with UV_PYTHON_DOWNLOADS=never,
        so an environment only ever gets an interpreter you have (module load python, pyenv,
        uv python install), and a missing one is an error that says so. Example: True on a
        machine that can reach GitHub and where uv-managed Pythons are welcome.""",
    ).tag(config=True)

    project_kernel = Bool(
        True,
        help="""Keep the 'uv-project' kernel in kernelspec_dir. It runs the uv project the
        notebook is in, found at start by walking up from the notebook's folder, so a
        notebook saved with it opens in a colleague's clone or a copy at another path.
        Example: False to offer only the per-environment kernels.""",
    ).tag(config=True)

    script_kernel = Bool(
        True,
        help="""Keep the 'uv-script' kernel ("Python (notebook's inline dependencies)") in
        kernelspec_dir. It runs a self-contained notebook (juv's format: a PEP 723
        '# /// script' block, and its lock in the notebook's metadata) in an environment
        built by uv from them and cached. Example: False to not offer it.""",
    ).tag(config=True)

    script_env_dir = Unicode(
        "",
        help="""Directory where the environments of self-contained notebooks are built and
        cached, one per set of dependencies. Example: "/glade/derecho/scratch/jdoe/uv-kernel-envs".
        Empty (the default) means 'uv-kernel-envs' beside uv's cache dir (the parent of
        `uv cache dir`), so on scratch when UV_CACHE_DIR is.""",
    ).tag(config=True)

    script_env_cache_max = Int(
        8,
        help="""How many self-contained notebook environments to keep in script_env_dir; after
        a build, the least recently used beyond this number are removed (never one a running
        kernel uses). Example: 20. 0 means keep them all.""",
    ).tag(config=True)

    @validate("script_env_cache_max")
    def _valid_cache_max(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise ValueError(f"UvKernels.script_env_cache_max must be 0 or more, not {value}")
        return value

    rescan_interval = Float(
        300.0,
        help="""Seconds between the server's cheap background checks: each known
        environment's few marker files, and the directories where new environments appear
        (the roots' first level, the folders that hold environments, new pyproject.toml
        folders), re-read only when their mtime changed. Not a full walk (see
        full_rescan_interval). Example: 600. 0 disables the background checks (a look from
        the launcher or the panel, and POST /uv-kernels/refresh, still check).""",
    ).tag(config=True)

    full_rescan_interval = Float(
        21600.0,
        help="""Seconds between full walks of the roots in the background, which find
        environments made anywhere (deep in a new folder tree). The server also walks at
        start (or reuses a recent walk of another server, see scan_share_seconds) and on
        POST /uv-kernels/refresh. Example: 3600. 0 means never in the background.""",
    ).tag(config=True)

    demand_interval = Float(
        3.0,
        help="""When someone looks (the launcher fetches /api/kernelspecs, the panel lists
        environments) and the last check is older than this many seconds, a cheap check
        starts in the background (the request never waits for it). Example: 10. 0 means
        never check on demand.""",
    ).tag(config=True)

    scan_share_seconds = Float(
        600.0,
        help="""A full walk's result is written to the Jupyter data dir (uv_kernels/scans/),
        and another server of the same user (a login node and a compute node share $HOME)
        or `jupyter uvkernel refresh` reuses it instead of walking again while it is
        younger than this many seconds and was made with the same roots and pruning.
        Example: 300. 0 means never reuse (every process walks on its own).""",
    ).tag(config=True)

    scan_time_budget = Float(
        30.0,
        help="""Seconds one discovery scan may take before it stops and marks its result
        'partial'. Example: 10. 0 means no budget.""",
    ).tag(config=True)

    scan_workers = Int(
        0,
        help="""Threads that walk the subtrees of each root in parallel. On a parallel or
        network filesystem (GPFS such as GLADE, Lustre, NFS), where each metadata call has a
        high latency, 8 threads hide that latency; on a local disk one is fastest.
        Example: 8. 0 (the default) chooses per root from its filesystem type (statfs):
        8 on GPFS, Lustre and NFS, 1 elsewhere, and logs the choice. 1 means serial.""",
    ).tag(config=True)

    uv = Unicode(
        "",
        help="""Path of the uv binary. Example: "/glade/u/apps/opt/uv/0.9/bin/uv".
        Empty means the first 'uv' on PATH (e.g. after 'module load uv'), else the binary
        shipped by the 'uv' Python package.""",
    ).tag(config=True)

    uv_cache_dir = Unicode(
        "",
        help="""UV_CACHE_DIR given to every uv run. Example: "/glade/derecho/scratch/jdoe/uv-cache".
        Empty keeps UV_CACHE_DIR from the environment if it is set, else uv's default
        (~/.cache/uv, which counts against the $HOME quota: 'jupyter uvkernel doctor' warns).""",
    ).tag(config=True)

    compile_bytecode = Bool(
        True,
        help="""Pass --compile-bytecode when creating and syncing environments, so kernels
        start faster (measured: 1.47 s -> 0.62 s). Example: False to save disk and time
        during installs.""",
    ).tag(config=True)

    sync_on_start = Enum(
        SYNC_ON_START_MODES,
        default_value="check",
        help="""What the uv provisioner does to a project when one of its kernels starts.
        'never': start as is. 'check': run 'uv sync --check' and log a warning when the
        environment is out of sync, then start. 'sync': run 'uv sync --frozen' first, so the
        kernel sees exactly the locked packages. Venvs have no lock and are started as is.""",
    ).tag(config=True)

    max_concurrent_operations = Int(
        4,
        help="""How many uv operations (create, sync, add, remove) may run at once across
        different environments. Operations on one environment always run one after another.
        Example: 2. 0 means 1.""",
    ).tag(config=True)

    operation_timeout = Float(
        1800.0,
        help="""Seconds one uv command may run before it is stopped and its operation marked
        failed. Example: 600. 0 means no timeout.""",
    ).tag(config=True)

    max_request_bytes = Int(
        65536,
        help="""Largest request body, in bytes, the REST API accepts; larger bodies get 413.
        Example: 16384. 0 means the default of 65536.""",
    ).tag(config=True)

    outdated_cache_seconds = Float(
        300.0,
        help="""How long an answer of GET environments/{id}/outdated (which asks the package
        index) is reused before it is asked again. Example: 60. 0 means never reuse.""",
    ).tag(config=True)

    size_time_budget = Float(
        10.0,
        help="""Seconds the disk-use measurement of one environment may walk it (GLADE stats
        are slow); past the budget the answer is a lower bound ("at least N").
        Example: 30. 0 means no budget.""",
    ).tag(config=True)

    indexes = Dict(
        value_trait=Unicode(),
        default_value={},
        help="""Named package indexes an add may use, name -> URL, e.g.
        {"pytorch-cu124": "https://download.pytorch.org/whl/cu124"} for Casper's GPU wheels.
        A project records the one it used the uv way ([[tool.uv.index]] and a source).""",
    ).tag(config=True)

    scheduler = Enum(
        ["auto", "pbs", "slurm"],
        "auto",
        help="""The batch system "Run as batch job" submits to: pbs (qsub, qstat, qdel; NCAR's
        Derecho and Casper), slurm (sbatch, squeue, scancel), or auto: PBS when qsub is on
        PATH, else Slurm when sbatch is, else none (submitting answers 503, a dry run still
        shows a PBS script). Example: "slurm".""",
    ).tag(config=True)

    scheduler_timeout = Float(
        60.0,
        help="""Seconds one scheduler command (qsub, qstat, sbatch, squeue, …) may take before
        it is stopped and the request fails with 502. Example: 120. 0 means 60.""",
    ).tag(config=True)

    job_prologue = Unicode(
        "module load uv",
        help="""Shell lines a batch job runs before uv, to put uv on PATH the way the site
        does. Example: "module load uv\\nexport UV_CACHE_DIR=/glade/derecho/scratch/$USER/uv-cache".
        Empty means uv is already on the job's PATH.""",
    ).tag(config=True)

    job_defaults = Dict(
        value_trait=Unicode(),
        default_value={"select": "1:ncpus=1", "walltime": "01:00:00"},
        help="""Site defaults of a batch job, used where neither the request nor the project's
        [tool.jupyter-uv-kernels.job] table gives a value. Keys: account, queue, select,
        walltime. Example: {"account": "UABC0001", "queue": "casper", "select":
        "1:ncpus=4:mem=16GB", "walltime": "01:00:00"}. Empty means no default.""",
    ).tag(config=True)

    job_state_file = Unicode(
        "",
        help="""The file that remembers the batch jobs submitted from here (so they are listed
        after a restart, and by a server on another node with the same $HOME). Example:
        "~/.local/share/jupyter/uv_kernels/jobs.json". Empty means uv_kernels/jobs.json in
        the Jupyter data dir.""",
    ).tag(config=True)

    def effective_roots(self, fallback: str | os.PathLike[str] | None = None) -> list[Path]:
        """The roots to scan, with the documented default applied.

        ``fallback`` is the server's root_dir (the CLI passes the current directory).
        """
        if self.roots:
            return [Path(os.path.expanduser(os.path.expandvars(r))).absolute() for r in self.roots]
        glade = glade_work_dir()
        if glade.is_dir():
            return [glade]
        return [Path(fallback if fallback is not None else os.getcwd()).absolute()]

    def effective_kernelspec_dir(self) -> Path:
        if self.kernelspec_dir:
            return Path(os.path.expanduser(self.kernelspec_dir)).absolute()
        return Path(jupyter_data_dir()) / "kernels"

    def effective_max_request_bytes(self) -> int:
        return self.max_request_bytes if self.max_request_bytes > 0 else 65536

    def effective_script_env_dir(self) -> str:
        """script_env_dir, else UV_KERNELS_SCRIPT_ENVS, else ``uv-kernel-envs`` beside the
        cache dir uv runs with (uv_cache_dir, else UV_CACHE_DIR, else uv's default)."""
        from .script_envs import env_dir

        environ = dict(os.environ)
        if self.uv_cache_dir:
            environ["UV_CACHE_DIR"] = os.path.expanduser(self.uv_cache_dir)
        return env_dir(self.script_env_dir, environ)

    def effective_job_state_file(self) -> Path:
        if self.job_state_file:
            return Path(os.path.expanduser(self.job_state_file)).absolute()
        return Path(jupyter_data_dir()) / "uv_kernels" / "jobs.json"

    def effective_scheduler_timeout(self) -> float:
        return self.scheduler_timeout if self.scheduler_timeout > 0 else 60.0
