"""Start an IPython kernel on a notebook's inline dependencies: the ``uv-script`` launcher.

The reconciler copies this file (as ``uvkernel_script_<digest>.py``) into the ``uv-script``
kernelspec directory, with ``script_block.py``, ``script_envs.py`` and
``kernel_launcher.py`` beside it, and kernel.json runs it as
``python3 -IS {resource_dir}/uvkernel_script_<digest>.py -f {connection_file}``. So the kernel
starts the same way in JupyterLab and in a batch job's papermill or nbclient from a Python
without jupyter_uv_kernels: standard library only, any Python >= 3.8.

What it does, in order:

1. finds the notebook: ``UV_KERNELS_NOTEBOOK`` (the server sets it; a batch job may), else
   ``JPY_SESSION_NAME`` (jupyter_server sets it: the notebook's absolute path, or its path
   relative to the server's root when the session has no name; the kernel's working
   directory is the notebook's folder), else the one notebook with inline dependencies in
   the working directory (several are fine if they all need the same environment);
2. reads its PEP 723 block and lock (:mod:`script_block`);
3. reuses the environment built for them (a few stats: no uv at all), or builds it with uv
   (:mod:`script_envs`), printing uv's progress to stderr;
4. cleans the environment exactly as every other kernel of ours
   (:func:`kernel_launcher.kernel_environment`) and ``exec``s
   ``<env>/bin/python -m ipykernel_launcher`` with the remaining arguments.

Failures print one paragraph naming the problem and the fix, and exit with status 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

try:  # the package (the server's provisioner imports this module)
    from . import kernel_launcher, script_block, script_envs
except ImportError:  # the copy in a kernelspec dir, run with -I (no script dir on sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import kernel_launcher  # type: ignore[no-redef]
    import script_block  # type: ignore[no-redef]
    import script_envs  # type: ignore[no-redef]

LaunchError = kernel_launcher.LaunchError
NotebookScript = script_envs.NotebookScript

#: The notebook to run (wins over everything else).
NOTEBOOK_VARIABLE = "UV_KERNELS_NOTEBOOK"
#: What jupyter_server puts in every kernel's environment.
SESSION_VARIABLE = "JPY_SESSION_NAME"
#: The marker's kind (kernel.json metadata) of the uv-script kernel.
SCRIPT_KIND = "uv-script"


def _script_of(path: str) -> NotebookScript:
    script = NotebookScript.read(path)
    if script is None:
        raise LaunchError(script_envs.no_block_message(path))
    return script


def _session_notebook(session: str, cwd: str) -> str | None:
    if not session.endswith(".ipynb"):
        return None  # a console or a file that is not a notebook
    candidates = [session] if os.path.isabs(session) else []
    # Relative to the server's root (which the kernel does not know): the kernel runs in
    # the notebook's folder, so the file is there under its own name.
    candidates += [os.path.join(cwd, session), os.path.join(cwd, os.path.basename(session))]
    return next((c for c in candidates if os.path.isfile(c)), None)


def _only_notebook_in(cwd: str) -> NotebookScript:
    try:
        names = sorted(n for n in os.listdir(cwd) if n.endswith(".ipynb"))
    except OSError as e:
        raise LaunchError(f"Cannot list {cwd}: {e.strerror or e}.") from None
    found: list[NotebookScript] = []
    problems: list[script_block.BlockError] = []
    for name in names:
        try:
            script = NotebookScript.read(os.path.join(cwd, name))
        except script_block.BlockError as e:
            problems.append(e)
            continue
        if script is not None:
            found.append(script)
    keys = {s.key for s in found}
    if len(keys) == 1:
        return found[0]
    if not found and len(problems) == 1:
        raise problems[0]  # the one candidate, and what is wrong with it
    what = (
        "no notebook with inline dependencies ('# /// script' block)"
        if not found
        else f"{len(found)} notebooks with different inline dependencies "
        f"({', '.join(os.path.basename(s.path) for s in found[:4])})"
    )
    raise LaunchError(
        f"Cannot start the uv-script kernel: it was not told which notebook it runs, and "
        f"{cwd} holds {what}.\n"
        f"Fix: set {NOTEBOOK_VARIABLE}=/path/to/notebook.ipynb in the kernel's environment "
        "(a batch job's script), or run the notebook from its own folder."
    )


def find_script(environ: Mapping[str, str], cwd: str) -> NotebookScript:
    """The notebook the kernel runs, read; :class:`LaunchError` or ``BlockError`` when
    there is none or it cannot be used."""
    explicit = environ.get(NOTEBOOK_VARIABLE, "")
    if explicit:
        path = os.path.abspath(os.path.join(cwd, os.path.expanduser(explicit)))
        if not os.path.isfile(path):
            raise LaunchError(
                f"Cannot start the uv-script kernel: {NOTEBOOK_VARIABLE}={explicit} is not a "
                f"file.\nFix: set {NOTEBOOK_VARIABLE} to the notebook's path."
            )
        return _script_of(path)
    session = environ.get(SESSION_VARIABLE, "")
    from_session = _session_notebook(session, cwd) if session else None
    if from_session is not None:
        return _script_of(from_session)
    return _only_notebook_in(cwd)


if TYPE_CHECKING:
    #: ``run(args, cwd)``: uv ARGS in the folder ``cwd`` (None: the current one).
    Runner = Callable[[Sequence[str], "str | None"], subprocess.CompletedProcess[str]]


def run_uv(uv: str, progress: Callable[[str], None]) -> Runner:
    """Runs ``uv ARGS``, its stderr lines passed to ``progress`` as they come."""

    def run(args: Sequence[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        progress("uv " + " ".join(args))
        err: list[str] = []
        out: list[str] = []
        with subprocess.Popen(
            [uv, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env={**os.environ, "NO_COLOR": "1"},
        ) as proc:
            assert proc.stderr is not None and proc.stdout is not None
            # stdout is drained beside stderr, so a large export cannot fill its pipe.
            reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
            reader.start()
            for line in proc.stderr:
                err.append(line)
                progress(line.rstrip("\n"))
            reader.join()
        return subprocess.CompletedProcess(list(args), proc.returncode, "".join(out), "".join(err))

    return run


def build(
    script: NotebookScript,
    envs: str,
    run: Runner,
    *,
    compile_bytecode: bool = True,
    keep_max: int = script_envs.DEFAULT_CACHE_MAX,
) -> str:
    """Build ``script``'s env with ``run`` (see :func:`run_uv`); returns the env's path."""
    job = script_envs.Build(envs, script)
    try:

        def step(name: str, args: list[str], cwd: str | None = None) -> str:
            result = run(args, cwd)
            if result.returncode != 0:
                raise script_envs.BuildError(
                    script_envs.failure_message(name, result.stderr, script)
                )
            return str(result.stdout)

        python = step("python", script_envs.python_find_args(job.script_file)).strip()
        step("venv", script_envs.venv_args(python, job.env))
        job.write_requirements(
            step("export", script_envs.export_args(job.export_file, locked=job.locked), job.cwd)
        )
        step(
            "install",
            script_envs.install_args(job.env, job.requirements, compile_bytecode=compile_bytecode),
            job.cwd,
        )
        final = job.finish()
    finally:
        job.discard()
    script_envs.prune(envs, keep_max, {script.key})
    return final


def progress_to_stderr(line: str) -> None:
    sys.stderr.write(f"[uv-script] {line}\n")
    sys.stderr.flush()


def find_uv(environ: Mapping[str, str]) -> str:
    """``UV_KERNELS_UV``, else ``uv`` on PATH."""
    configured = environ.get(script_envs.UV_VARIABLE, "")
    found = configured or shutil.which("uv", path=environ.get("PATH"))
    if not found or not os.path.isfile(found):
        raise LaunchError(
            "Cannot build the notebook's environment: uv was not found "
            f"({script_envs.UV_VARIABLE}={configured} is not a file)."
            if configured
            else "Cannot build the notebook's environment: uv is not on PATH.\n"
            f"Fix: `module load uv` before the kernel starts, or set {script_envs.UV_VARIABLE}."
        )
    return found


def prepare(environ: Mapping[str, str], cwd: str) -> kernel_launcher.Target:
    """Find the notebook, reuse or build its env, check it; the kernel's target."""
    script = find_script(environ, cwd)
    envs = script_envs.env_dir("", environ)
    env = script_envs.env_path(envs, script.key)
    if script_envs.is_ready(env):
        script_envs.touch(env)
    else:
        progress_to_stderr(f"building the environment of {script.path} in {env}")
        run = run_uv(find_uv(environ), progress_to_stderr)
        env = build(script, envs, run, keep_max=script_envs.cache_max(environ))
    target = kernel_launcher.Target(env, None)
    kernel_launcher.check_target(target)
    return target


def kernel_environment(target: kernel_launcher.Target, base: Mapping[str, str]) -> dict[str, str]:
    """Cleaned as every kernel of ours is; the notebook is forgotten, so a notebook this
    kernel runs with nbclient finds its own."""
    env = kernel_launcher.kernel_environment(target, dict(base))
    env.pop(NOTEBOOK_VARIABLE, None)
    return env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        target = prepare(os.environ, os.getcwd())
    except (LaunchError, script_block.BlockError, script_envs.BuildError) as e:
        sys.stderr.write(f"\n{e}\n\n")
        sys.stderr.flush()
        return 1
    python = target.python
    os.execve(
        python, [python, "-m", "ipykernel_launcher", *args], kernel_environment(target, os.environ)
    )
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
