"""The environments the ``uv-script`` kernel builds from a notebook's inline dependencies.

A self-contained notebook (juv's format, see :mod:`script_block`) carries a PEP 723 block
and, once locked, the lock. The kernel runs it in a uv venv with ipykernel built from them,
kept in a cache and reused while the block and the lock stay the same:

- where: ``<env dir>/<environment_key>/``. The env dir is ``UvKernels.script_env_dir`` (the
  server passes it to kernels as ``UV_KERNELS_SCRIPT_ENVS``), else ``uv-kernel-envs``
  beside uv's cache dir: ``$UV_CACHE_DIR/../uv-kernel-envs``, so on scratch when the uv
  cache is (NCAR). uv's own rule (``UV_CACHE_DIR``, else ``$XDG_CACHE_HOME/uv``, else
  ``~/.cache/uv``) is applied here without running ``uv cache dir``: a cached start runs no
  uv at all.
- complete only when ``<env>/.uv-kernels-ready`` exists. An env is built in a temporary
  directory beside the final one, the marker is written last, and the env is renamed into
  place (atomic on one filesystem), so two starts at once (a login node and a compute node
  sharing $HOME) never see half an env; the marker's mtime is the env's last use.
- bounded: after a build, the least recently used envs beyond the maximum are removed
  (renamed aside first, so a reader never sees half of one).

The build, in uv commands (the argv builders below are the only place they are spelled;
the server runs them through its uv runner, :func:`script_launcher.build` with subprocess):

1. the block to ``notebook.py`` and the lock to ``notebook.py.lock`` in the build dir;
2. ``uv python find --script notebook.py``: an interpreter that meets requires-python;
3. ``uv venv --relocatable --python <it>``;
4. ``uv export --script notebook.py --locked`` when locked (exactly the locked versions; a
   lock that no longer matches the block is an error asking for a relock), else the
   block's requirements resolved the same way;
5. one ``uv pip install -r <those> ipykernel``, so the locked pins hold and ipykernel
   resolves around them, bytecode compiled for a fast start.

Standard library only, Python >= 3.8: the launcher runs this in a batch job's Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

try:  # the package; the launcher imports the copies beside it instead
    from . import script_block
except ImportError:  # pragma: no cover (exercised by the launcher's own tests)
    import script_block  # type: ignore[no-redef]

BlockError = script_block.BlockError

#: Environment variables the launcher reads (the server sets them for its kernels).
ENVS_VARIABLE = "UV_KERNELS_SCRIPT_ENVS"
MAX_VARIABLE = "UV_KERNELS_SCRIPT_ENV_MAX"
UV_VARIABLE = "UV_KERNELS_UV"
#: The default env dir's name, beside uv's cache dir.
ENV_DIR_NAME = "uv-kernel-envs"
#: Written last into a complete env; its mtime is the env's last use.
READY_MARKER = ".uv-kernels-ready"
#: How many envs are kept when nothing says otherwise.
DEFAULT_CACHE_MAX = 8
#: Temporary directories in the env dir: builds in progress, and envs being removed.
BUILDING_PREFIX = ".building-"
REMOVING_PREFIX = ".removing-"
#: The block's copy beside the notebook while a build exports it (relative paths only).
LOCAL_BUILD_PREFIX = ".uv-kernels-build-"
#: The script and lock file names inside a build dir.
SCRIPT_FILE = "notebook.py"


class BuildError(Exception):
    """The env cannot be built; the message names the problem and the fix."""


# -- where envs live -------------------------------------------------------------------------


def uv_cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """uv's cache dir as ``uv cache dir`` prints it, without running uv."""
    env = os.environ if environ is None else environ
    if env.get("UV_CACHE_DIR"):
        return os.path.abspath(os.path.expanduser(env["UV_CACHE_DIR"]))
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "uv")
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".cache", "uv")


def env_dir(configured: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Where notebook envs live: ``configured``, else ``UV_KERNELS_SCRIPT_ENVS``, else
    ``uv-kernel-envs`` beside uv's cache dir."""
    env = os.environ if environ is None else environ
    chosen = configured or env.get(ENVS_VARIABLE, "")
    if chosen:
        return os.path.abspath(os.path.expanduser(os.path.expandvars(chosen)))
    return os.path.join(os.path.dirname(uv_cache_dir(env)), ENV_DIR_NAME)


def cache_max(environ: Mapping[str, str] | None = None) -> int:
    """``UV_KERNELS_SCRIPT_ENV_MAX`` (0 = keep all), else the default."""
    value = (os.environ if environ is None else environ).get(MAX_VARIABLE, "")
    try:
        return max(0, int(value)) if value else DEFAULT_CACHE_MAX
    except ValueError:
        return DEFAULT_CACHE_MAX


def env_path(envs: str, key: str) -> str:
    return os.path.join(envs, key)


def is_ready(env: str) -> bool:
    """A complete env: the marker (written last) and its interpreter exist."""
    return os.path.isfile(os.path.join(env, READY_MARKER)) and os.path.exists(
        os.path.join(env, "bin", "python")
    )


def touch(env: str) -> None:
    """Record a use (the marker's mtime orders pruning)."""
    with contextlib.suppress(OSError):
        os.utime(os.path.join(env, READY_MARKER))


# -- what a notebook asks for ----------------------------------------------------------------


class NotebookScript:
    """A notebook's block and lock, and the key of the env they build."""

    def __init__(self, path: str, block: str, lock: str | None) -> None:
        self.path = path
        self.block = block
        self.lock = lock
        #: The notebook's folder when the block names paths relative to it, else None.
        self.folder = script_block.local_paths_folder(path, block)
        self.key = script_block.environment_key(block, lock, self.folder)

    @classmethod
    def read(cls, path: str) -> NotebookScript | None:
        """The notebook's script (None when it has no block); BlockError when unreadable."""
        notebook = script_block.read_notebook(path)
        found = script_block.find_block(notebook)
        if found is None:
            return None
        return cls(path, found[1], script_block.notebook_lock(notebook))


def no_block_message(path: str) -> str:
    return (
        f"Cannot start the uv-script kernel: the notebook {path} has no inline dependencies "
        "(no '# /// script' block).\n"
        "Fix: add some in the uv panel (Dependencies) or with `juv add`, or pick another "
        "kernel."
    )


# -- the uv commands (argv after the uv binary) ----------------------------------------------


def python_find_args(script: str) -> list[str]:
    return ["python", "find", "--script", script]


def venv_args(python: str, env: str) -> list[str]:
    # --relocatable: the env is built under a temporary name and renamed into place.
    return ["venv", "--relocatable", "--python", python, "--", env]


def export_args(script: str, *, locked: bool) -> list[str]:
    # --emit-index-url: the block's [[tool.uv.index]] entries reach the install as
    # --index-url / --extra-index-url lines, so a package from a group's own index installs.
    args = ["export", "--script", script, "--no-hashes", "--no-header", "--no-annotate"]
    args.append("--emit-index-url")
    return [*args, "--locked"] if locked else args


def install_args(env: str, requirements: str, *, compile_bytecode: bool = True) -> list[str]:
    args = ["pip", "install", "--python", os.path.join(env, "bin", "python")]
    if compile_bytecode:
        args.append("--compile-bytecode")
    return [*args, "-r", requirements, "--", "ipykernel"]


# -- the build, in steps both runners share --------------------------------------------------


class Build:
    """One build's temporary dir: the script and lock, then the env, renamed at the end."""

    def __init__(self, envs: str, script: NotebookScript) -> None:
        script_block.validate_block(script.block)
        self.envs = envs
        self.script = script
        self.final = env_path(envs, script.key)
        #: Where ``uv export`` reads the block, and the folder export and install run in:
        #: the build dir, or beside the notebook when the block names paths relative to it
        #: (uv reads them relative to the script, and ``uv pip install`` relative to its
        #: working directory).
        self.dir = ""
        self.export_file = ""
        self.cwd: str | None = script.folder
        try:
            os.makedirs(envs, exist_ok=True)
            self.dir = tempfile.mkdtemp(prefix=f"{BUILDING_PREFIX}{script.key}-", dir=envs)
            _write_script(self.script_file, script)
        except OSError as e:
            self.discard()
            raise BuildError(
                f"Cannot build the notebook's environment in {envs}: {e.strerror or e}.\n"
                f"Fix: make {envs} writable, or set {ENVS_VARIABLE} "
                "(c.UvKernels.script_env_dir) to a writable folder."
            ) from None
        self.export_file = self.script_file
        if script.folder is not None:
            try:
                fd, self.export_file = tempfile.mkstemp(
                    prefix=LOCAL_BUILD_PREFIX, suffix=".py", dir=script.folder
                )
                os.close(fd)
                _write_script(self.export_file, script)
            except OSError as e:
                self.discard()
                raise BuildError(
                    f"The notebook {script.path} names a dependency by a path relative to "
                    f"its folder, and building its environment writes a copy of its block "
                    f"there for a moment, which failed: {e.strerror or e}.\n"
                    "Fix: give the path as an absolute one, or make the folder writable, "
                    "or turn the notebook into a project."
                ) from None

    @property
    def script_file(self) -> str:
        return os.path.join(self.dir, SCRIPT_FILE)

    @property
    def env(self) -> str:
        return os.path.join(self.dir, "env")

    @property
    def requirements(self) -> str:
        return os.path.join(self.dir, "requirements.txt")

    @property
    def locked(self) -> bool:
        return self.script.lock is not None

    def write_requirements(self, text: str) -> None:
        with open(self.requirements, "w", encoding="utf-8") as f:
            f.write(text)

    def finish(self) -> str:
        """Write the marker, rename the env into place, clean up; returns the env."""
        with open(os.path.join(self.env, READY_MARKER), "w", encoding="utf-8") as f:
            json.dump({"key": self.script.key, "notebook": self.script.path}, f)
        try:
            _rename_into_place(self.env, self.final, self.envs)
        finally:
            self.discard()
        return self.final

    def discard(self) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.export_file and self.script.folder is not None:
            for leftover in (self.export_file, self.export_file + ".lock"):
                with contextlib.suppress(OSError):
                    os.remove(leftover)


def _write_script(path: str, script: NotebookScript) -> None:
    """The block as a script at ``path``, and its lock beside it (``PATH.lock``)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(script.block.rstrip("\n") + "\n")
    if script.lock is not None:
        with open(path + ".lock", "w", encoding="utf-8") as f:
            f.write(script.lock)


def _rename_into_place(built: str, final: str, envs: str) -> None:
    for _ in range(3):
        try:
            os.rename(built, final)
            return
        except OSError:
            if is_ready(final):
                return  # another start built the same env first: use that one
            _remove_env(final, envs)  # a leftover without its marker
    raise BuildError(f"Cannot move the built environment into {final}.")


def _remove_env(env: str, envs: str) -> None:
    aside = tempfile.mkdtemp(prefix=REMOVING_PREFIX, dir=envs)
    try:
        os.rename(env, os.path.join(aside, "env"))
    except OSError:
        pass
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def is_stale_lock(stderr: str) -> bool:
    """Whether ``uv export --script --locked`` failed because the lock no longer matches
    the block (the block was edited after it was locked)."""
    return "needs to be updated" in " ".join(stderr.split())


def failure_message(step: str, stderr: str, script: NotebookScript) -> str:
    """uv's failure at one step, as one message with the fix."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    text = " ".join(lines)
    where = script.path
    if step == "export" and is_stale_lock(text):
        return (
            f"The notebook {where} has a lock that no longer matches its '# /// script' "
            "block (the block was changed after it was locked).\n"
            f"Fix: relock it: Lock in the uv panel, or `juv lock {where}`."
        )
    if step == "python":
        return (
            f"No Python on this machine satisfies the notebook's requires-python ({where}): "
            f"{lines[-1] if lines else 'uv found none'}.\n"
            "Fix: `module load python` (or `uv python install`) for a matching version, or "
            "relax requires-python in the notebook's first cell."
        )
    reason = next((line for line in lines if line.startswith("error:")), "")
    reason = reason or (lines[-1] if lines else "uv failed")
    return (
        f"Cannot build the environment of {where} ({step}): {reason}\n"
        f"Fix: correct the dependencies (uv panel, or `juv add` / `juv remove`), then restart "
        "the kernel."
    )


def prune(envs: str, keep_max: int, keep: Collection[str] = ()) -> list[str]:
    """Remove the least recently used envs beyond ``keep_max`` (0 = keep all), never the
    keys in ``keep``; returns the removed keys. Leftover build dirs older than a day go too."""
    if keep_max <= 0:
        return []
    found: list[tuple[float, str]] = []
    try:
        entries = list(os.scandir(envs))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        if entry.name.startswith((BUILDING_PREFIX, REMOVING_PREFIX)):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > 86400:
                    shutil.rmtree(entry.path, ignore_errors=True)
            continue
        if entry.name.startswith("."):
            continue
        try:
            used = os.stat(os.path.join(entry.path, READY_MARKER)).st_mtime
        except OSError:
            continue  # not ours, or not complete: left alone
        found.append((used, entry.name))
    found.sort(reverse=True)
    removed = []
    kept = sum(1 for _used, name in found if name in keep)  # they count toward the max
    for _used, name in found:
        if name in keep:
            continue
        if kept < keep_max:
            kept += 1
            continue
        _remove_env(os.path.join(envs, name), envs)
        removed.append(name)
    return removed
