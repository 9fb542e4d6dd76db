"""The text of a batch job script, where it is saved, and what the job leaves behind.

The script follows NCAR's "Using uv in Batch Jobs": the scheduler's header, then the
site's way of loading uv (``UvKernels.job_prologue``), then one ``uv`` line:

- a notebook runs with papermill, from uv's cache beside the environment (never added to
  it), on the environment's kernel: ``uv run --project P --frozen --with papermill
  papermill NB OUT -k KERNEL --cwd DIR -p …``;
- a script runs with ``uv run --project P --frozen python SCRIPT ARGS`` (a venv: its own
  ``python``).

Everything the job prints goes to ``{stem}-{jobid}.log`` beside the file, which ends with
``jupyter-uv-kernels: job ended with exit status N``; the executed notebook is
``{stem}-{jobid}.ipynb``. The script is saved beside the file so it can be read, kept and
resubmitted by hand. Values are validated by :mod:`job_request`; here every one is quoted
with :func:`shlex.quote` as well. This module never imports tornado.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field

from .job_request import Parameter
from .schedulers import JobDirectives, Scheduler

#: The last line every job prints; :func:`exit_status_from_log` reads it back.
EXIT_LINE = "jupyter-uv-kernels: job ended with exit status "
_CHECKSUM = "# jupyter-uv-kernels-checksum: "
#: How many script names beside one file are tried before giving up (fig3-2.pbs, …).
MAX_SCRIPT_VARIANTS = 100


@dataclass
class JobPlan:
    """What the job runs, every path absolute."""

    kind: str  # "notebook" | "script"
    path: str
    #: The environment's venv, and its project (None for a plain venv).
    venv: str
    project: str | None
    #: The kernel papermill starts (notebooks).
    kernel: str | None = None
    parameters: dict[str, Parameter] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    #: The dir that holds the kernelspecs (exported in JUPYTER_PATH so papermill finds them).
    jupyter_data_dir: str | None = None
    uv_cache_dir: str | None = None
    #: Where the uv-script kernel keeps the environments notebooks' inline dependencies
    #: build (UvKernels.script_env_dir); None: the kernel's default rule.
    script_env_dir: str | None = None

    @property
    def inline(self) -> bool:
        """The file carries its own dependencies (a PEP 723 block): no venv, no project."""
        return not self.venv and not self.project

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)

    @property
    def stem(self) -> str:
        return os.path.splitext(os.path.basename(self.path))[0]


def short_id(job_id: str) -> str:
    """``1234.desched1`` → ``1234``: the part of the id in the job's file names (the script
    computes the same from ``$PBS_JOBID`` or ``$SLURM_JOB_ID``)."""
    return job_id.split(".", 1)[0]


def log_path(plan: JobPlan, job_id: str) -> str:
    return os.path.join(plan.directory, f"{plan.stem}-{short_id(job_id)}.log")


def output_path(plan: JobPlan, job_id: str) -> str | None:
    if plan.kind != "notebook":
        return None
    return os.path.join(plan.directory, f"{plan.stem}-{short_id(job_id)}.ipynb")


def render(plan: JobPlan, directives: JobDirectives, scheduler: Scheduler, prologue: str) -> str:
    """The whole script, ending in a checksum line (see :func:`save`)."""
    q = shlex.quote
    name = os.path.basename(plan.path)
    what = (
        f"runs {name} with papermill on the kernel {plan.kernel}"
        if plan.kind == "notebook"
        else f"runs {name} with uv run"
    )
    lines = [
        "#!/bin/bash",
        *scheduler.header(directives),
        "#",
        f"# Written by jupyter_uv_kernels: {what},",
        f"# in the environment {plan.project or plan.venv}.",
        f"# Resubmit it by hand from this folder: {scheduler.submit_command} "
        f"{q(os.path.basename(plan.stem))}{scheduler.script_suffix}",
        "# Edit it freely: an edited copy is never overwritten (the next one gets a new name).",
        "",
        'JOBID="${PBS_JOBID:-${SLURM_JOB_ID:-manual-$(date +%s)}}"',
        'JOBID="${JOBID%%.*}"',
        f"cd {q(plan.directory)} || exit 1",
        f'exec >>{q(plan.stem + "-")}"$JOBID".log 2>&1',
        f"trap 'echo \"{EXIT_LINE}$?\"' EXIT",
        'echo "jupyter-uv-kernels: job $JOBID started on $(hostname) at $(date)"',
        "",
        "# Load uv the way this site does (UvKernels.job_prologue).",
        *(prologue.splitlines() if prologue.strip() else ["# (none: uv is on PATH)"]),
        "",
        "# No conda env may be active while uv runs, and the kernel must not inherit",
        "# another Python's paths.",
        "unset CONDA_PREFIX CONDA_DEFAULT_ENV CONDA_SHLVL CONDA_PYTHON_EXE PYTHONHOME PYTHONPATH",
    ]
    if plan.uv_cache_dir:
        lines.append(f"export UV_CACHE_DIR={q(plan.uv_cache_dir)}")
    if plan.jupyter_data_dir and plan.kind == "notebook":
        lines += [
            "# Where this user's kernels are (a PBS job does not inherit the server's variables).",
            f'export JUPYTER_PATH={q(plan.jupyter_data_dir)}"${{JUPYTER_PATH:+:$JUPYTER_PATH}}"',
        ]
    if plan.inline and plan.kind == "notebook":
        lines += [
            "# The uv-script kernel builds (or reuses) the environment of this notebook's own",
            "# inline dependencies; this is the notebook it reads them from.",
            f"export UV_KERNELS_NOTEBOOK={q(plan.path)}",
        ]
        if plan.script_env_dir:
            lines.append(f"export UV_KERNELS_SCRIPT_ENVS={q(plan.script_env_dir)}")
    lines += ["", *_command(plan), ""]
    body = "\n".join(lines)
    return f"{body}{_CHECKSUM}{_digest(body)}\n"


def _command(plan: JobPlan) -> list[str]:
    q = shlex.quote
    if plan.kind == "notebook":
        runner = (
            f"uv run --project {q(plan.project)} --frozen --with papermill papermill"
            if plan.project
            else "uv run --no-project --with papermill papermill"
        )
        argv = [
            q(os.path.basename(plan.path)),
            f'{q(plan.stem + "-")}"$JOBID".ipynb',
            "-k",
            q(plan.kernel or ""),
            "--cwd",
            q(plan.directory),
            # Our kernels are all Python; a notebook saved without language metadata still runs.
            "--language",
            "python",
        ]
        for name, value in plan.parameters.items():
            argv += _parameter(name, value)
        return [f"{runner} \\", "    " + " ".join(argv)]
    script = [q(os.path.basename(plan.path)), *(q(a) for a in plan.args)]
    if plan.inline:
        # uv builds the script's own environment from its block (and its lock, if any).
        frozen = " --frozen" if os.path.isfile(plan.path + ".lock") else ""
        return [f"uv run --script{frozen} " + " ".join(script)]
    if plan.project:
        return [f"uv run --project {q(plan.project)} --frozen python " + " ".join(script)]
    venv = q(plan.venv)
    return [
        f"export VIRTUAL_ENV={venv}",
        f'export PATH={q(os.path.join(plan.venv, "bin"))}:"$PATH"',
        f"{q(os.path.join(plan.venv, 'bin', 'python'))} " + " ".join(script),
    ]


def _parameter(name: str, value: Parameter) -> list[str]:
    """papermill's ``-r`` for text (kept as it is), ``-p`` for the rest (papermill types
    ``5``, ``0.5``, ``True`` and ``None`` itself)."""
    if isinstance(value, str):
        return ["-r", name, shlex.quote(value)]
    if value is None or isinstance(value, bool):
        return ["-p", name, str(value)]
    return ["-p", name, json.dumps(value)]


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def unedited(text: str) -> bool:
    """A script we wrote and nobody changed since (its checksum line still matches)."""
    body, sep, tail = text.rpartition(_CHECKSUM)
    return bool(sep) and tail.strip() == _digest(body)


def script_path(plan: JobPlan, scheduler: Scheduler) -> str:
    """Where the script goes: ``{stem}{suffix}`` beside the file, unless a file of that name
    is there that we did not write or someone edited; then ``{stem}-2{suffix}``, …"""
    for n in range(1, MAX_SCRIPT_VARIANTS + 1):
        suffix = "" if n == 1 else f"-{n}"
        candidate = os.path.join(plan.directory, f"{plan.stem}{suffix}{scheduler.script_suffix}")
        try:
            with open(candidate, encoding="utf-8", errors="replace") as f:
                existing = f.read(1_000_000)
        except FileNotFoundError:
            return candidate
        except OSError:
            continue
        if unedited(existing):
            return candidate
    raise FileExistsError(
        f"{MAX_SCRIPT_VARIANTS} job scripts named {plan.stem}…{scheduler.script_suffix} "
        f"already exist in {plan.directory}; remove some."
    )


def save(path: str, text: str) -> None:
    """Write the script atomically, executable by its owner."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def _tail(path: str, size: int) -> str | None:
    """The last ``size`` bytes of a file as text, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def exit_status_from_log(path: str) -> int | None:
    """The exit status the job wrote as its last line, or None (running, killed, no log)."""
    for line in reversed((_tail(path, 4096) or "").splitlines()):
        if line.startswith(EXIT_LINE):
            rest = line[len(EXIT_LINE) :].strip()
            return int(rest) if rest.isdigit() else None
    return None


def log_tail(path: str, lines: int = 60) -> str:
    return "\n".join((_tail(path, 65536) or "").splitlines()[-lines:])
