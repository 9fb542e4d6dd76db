"""The kernelspec reconciler: environment records in, real kernelspec directories out.

Real files mean listing kernels costs what stock Jupyter costs, and nbconvert, papermill,
nbclient and ``jupyter kernelspec list`` in a PBS job see the same kernels as the server.

Rules (ARCHITECTURE §1, §4):
- only specs carrying our marker are ever changed or removed;
- a second run with the same input writes nothing;
- writes are atomic (temp file or temp dir, then rename), so two servers sharing one $HOME
  never see a half-written kernel.json;
- an environment that already has a user-written kernelspec for its interpreter gets no
  second kernel;
- a spec is removed only when its environment is gone for sure: the env path no longer
  holds a kernel-worthy environment, or a *complete* scan of a root containing it did not
  find it. A partial scan never removes anything it did not see.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from jupyter_core.paths import jupyter_path

from . import kernel_launcher
from .environments import Environment, kernel_name_for, site_packages_dir, venv_interpreter
from .errors import Conflict, KernelspecDirNotWritable, KernelspecNotFound
from .kernel_launcher import LAUNCHER_FILE

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
#: A logo every ipykernel ships; its absence means a spec dir got no logos.
PROBE_LOGO = "logo-64x64.png"
#: Hidden file beside the specs: environments whose kernel the user unregistered.
STATE_FILE = ".jupyter_uv_kernels.json"
#: Hidden subdirectory of the kernels dir where spec dirs are assembled and removed.
STAGING_DIR = ".jupyter_uv_kernels-staging"


@dataclass
class ReconcileResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: env path -> name of the user-written spec that already serves it
    user_owned: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "user_owned": self.user_owned,
            "errors": self.errors,
        }


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
        return owner.get("path") if owner else None

    @property
    def is_project_kernel(self) -> bool:
        return (self.owner or {}).get("kind") == PROJECT_KERNEL_KIND


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


def _launcher_argv(interpreter: str, *args: str) -> list[str]:
    # -I: the launcher ignores PYTHONPATH, PYTHONHOME and user site-packages of the parent;
    # -S: it needs no site-packages at all (stdlib only), and starts faster without them.
    return [
        interpreter,
        "-I",
        "-S",
        "{resource_dir}/" + LAUNCHER_FILE,
        *args,
        "--",
        "-f",
        "{connection_file}",
    ]


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
    provisioner and recognises the spec by the owner marker."""
    assert env.venv is not None
    owner: dict[str, Any] = {
        "format": SPEC_FORMAT,
        "owned": True,
        "env_id": env.id,
        "path": env.path,
        "kind": env.kind,
        "venv": env.venv,
        "launcher": launcher_digest(),
    }
    if custom_name:
        owner["custom_name"] = True
    if custom_display_name:
        owner["custom_display_name"] = True
    args = ["--venv", env.venv]
    if env.kind == "project":
        args += ["--project", env.path]
    return {
        "argv": _launcher_argv(venv_interpreter(env.venv), *args),
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
        "argv": _launcher_argv("python3", "--find-project"),
        "display_name": PROJECT_KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {
            "debugger": True,
            OWNER_KEY: {
                "format": SPEC_FORMAT,
                "owned": True,
                "kind": PROJECT_KERNEL_KIND,
                "launcher": launcher_digest(),
            },
        },
    }


@functools.lru_cache(maxsize=1)
def launcher_source() -> str:
    """The text of the launcher copied into every spec dir."""
    return Path(kernel_launcher.__file__).read_text("utf-8")


@functools.lru_cache(maxsize=1)
def launcher_digest() -> str:
    """Recorded in each spec's owner marker: a kernel.json that matches implies a launcher
    written with it, so a reconcile reads kernel.json alone (plus one stat)."""
    return hashlib.sha256(launcher_source().encode("utf-8")).hexdigest()[:16]


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
    return {
        "kernel.json": json.dumps(spec, indent=1, sort_keys=True) + "\n",
        LAUNCHER_FILE: launcher_source(),
    }


def _current(target: Path, spec: dict[str, Any]) -> bool:
    try:
        if json.loads((target / "kernel.json").read_text("utf-8")) != spec:
            return False
    except (OSError, ValueError):
        return False
    # The launcher's digest is in kernel.json; a deleted launcher is the one thing to see.
    return (target / LAUNCHER_FILE).is_file()


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
    if _current(target, spec):
        return False
    kernel_dir.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        # The launcher first: kernel.json, written last, is what makes the new argv live.
        for file_name in sorted(files, key=lambda n: n == "kernel.json"):
            _replace_file(target, file_name, files[file_name])
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


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def spec_environment_exists(spec: SpecOnDisk) -> bool:
    """Cheap check that an owned spec's environment still exists and works."""
    if spec.is_project_kernel:
        return True  # it has no environment of its own; it finds one at start
    argv = spec.data.get("argv") or []
    return bool(argv) and isinstance(argv[0], str) and os.path.exists(argv[0])


class KernelspecReconciler:
    """Applies the rules in the module docstring to one kernelspec directory."""

    def __init__(
        self,
        kernel_dir: str | os.PathLike[str],
        search_dirs: list[str] | None = None,
        *,
        project_kernel: bool = True,
    ):
        self.kernel_dir = Path(kernel_dir)
        #: Whether the ``uv-project`` kernel is kept in ``kernel_dir``.
        self.project_kernel = project_kernel
        # Everywhere Jupyter looks for kernels: a user-written spec anywhere there counts.
        self.search_dirs = (
            search_dirs
            if search_dirs is not None
            else list(dict.fromkeys([*jupyter_path("kernels"), str(self.kernel_dir)]))
        )

    def owned_specs(self) -> dict[str, SpecOnDisk]:
        return {s.name: s for s in read_specs(self.kernel_dir) if s.owned}

    def reconcile(
        self,
        envs: list[Environment],
        *,
        scanned_roots: Iterable[str] = (),
        complete: bool = True,
    ) -> ReconcileResult:
        """Make the owned specs in ``kernel_dir`` match ``envs``; fills ``env.kernel`` in.

        ``scanned_roots`` are the roots the scan that produced ``envs`` covered; a spec for
        an environment under them that the scan did not return is removed only when the
        scan was ``complete``.
        """
        result = ReconcileResult()
        user_specs = user_specs_by_bin_dir(self.search_dirs)
        excluded = self.unregistered()
        existing = self.owned_specs()
        previous = {os.path.realpath(s.env_path): s for s in existing.values() if s.env_path}
        wanted = [e for e in envs if e.gets_kernel and e.venv]
        names = display_names(wanted)
        desired: dict[str, tuple[Environment, dict[str, Any]]] = {}
        for env in envs:
            env.kernel = None
        for env in wanted:
            assert env.venv is not None
            real = os.path.realpath(env.path)
            if real in excluded:
                continue  # the user unregistered it; `install` / register brings it back
            user_spec = user_specs.get(os.path.realpath(os.path.join(env.venv, "bin")))
            if user_spec is not None:
                result.user_owned[env.path] = user_spec
                env.kernel = user_spec
                continue
            # A name or display name the user chose at register time is kept.
            prior = previous.get(real)
            owner = (prior.owner or {}) if prior else {}
            custom_name = bool(owner.get("custom_name"))
            custom_label = bool(owner.get("custom_display_name"))
            name = prior.name if prior and custom_name else kernel_name_for(env.path, env.name)
            label = str(prior.data.get("display_name")) if prior and custom_label else names[env.id]
            desired[name] = (
                env,
                build_spec(env, label, custom_name=custom_name, custom_display_name=custom_label),
            )

        for name, (env, spec) in sorted(desired.items()):
            try:
                changed = write_spec_atomically(
                    self.kernel_dir, name, spec, kernel_logos(env) if name not in existing else None
                )
            except OSError as e:
                result.errors.append(f"{self.kernel_dir / name}: {e.strerror or e}")
                continue
            env.kernel = name
            if not changed:
                result.unchanged.append(name)
            elif name in existing:
                result.updated.append(name)
            else:
                result.added.append(name)

        self._reconcile_project_kernel(result, existing, wanted)

        roots = [os.path.abspath(r) for r in scanned_roots]
        seen = {e.path for e in envs}
        for name, old in sorted(existing.items()):
            if name in desired or old.is_project_kernel:
                continue
            env_path = old.env_path or ""
            gone = not spec_environment_exists(old)
            # Seen but not wanted (broken, lost ipykernel, or now served by a user's spec),
            # or under a root a complete scan covered without finding it.
            not_wanted = env_path in seen or (complete and _under(env_path, roots))
            if gone or not_wanted:
                try:
                    remove_spec_dir(old.directory)
                    result.removed.append(name)
                except OSError as e:
                    result.errors.append(f"{old.directory}: {e.strerror or e}")
        if result.errors:
            log.warning("uv-kernels could not write kernelspecs: %s", "; ".join(result.errors))
        return result

    def _reconcile_project_kernel(
        self, result: ReconcileResult, existing: dict[str, SpecOnDisk], wanted: list[Environment]
    ) -> None:
        """Keep ``uv-project`` on disk (batch jobs need it too), or remove it when disabled."""
        name = PROJECT_KERNEL_NAME
        old = existing.get(name)
        try:
            if not self.project_kernel:
                if old is not None:
                    remove_spec_dir(old.directory)
                    result.removed.append(name)
                return
            if old is None and (self.kernel_dir / name / "kernel.json").exists():
                log.warning(
                    "uv-kernels: a kernelspec named %r that jupyter_uv_kernels did not write "
                    "exists in %s; the uv-project kernel is not installed.",
                    name,
                    self.kernel_dir,
                )
                return
            logos = kernel_logos(wanted[0]) if wanted and old is None else None
            if write_spec_atomically(self.kernel_dir, name, build_project_kernel_spec(), logos):
                (result.updated if old is not None else result.added).append(name)
            else:
                result.unchanged.append(name)
            if old is not None and wanted and not (Path(old.directory) / PROBE_LOGO).exists():
                # Written before any environment had ipykernel: give it the Python logo now.
                for logo in kernel_logos(wanted[0]):
                    shutil.copyfile(logo, os.path.join(old.directory, os.path.basename(logo)))
        except OSError as e:
            result.errors.append(f"{self.kernel_dir / name}: {e.strerror or e}")

    def annotate(self, envs: list[Environment]) -> None:
        """Fill ``env.kernel`` from what is on disk, writing nothing (for listings)."""
        user_specs = user_specs_by_bin_dir(self.search_dirs)
        by_path = {
            os.path.realpath(s.env_path): s.name for s in self.owned_specs().values() if s.env_path
        }
        for env in envs:
            env.kernel = by_path.get(os.path.realpath(env.path))
            if env.kernel is None and env.venv:
                env.kernel = user_specs.get(os.path.realpath(os.path.join(env.venv, "bin")))

    # -- single-spec operations used by the CLI and REST ---------------------------------

    def register(
        self, env: Environment, *, name: str | None = None, display_name: str | None = None
    ) -> str:
        """Write (or refresh) the spec of one environment; returns the kernel name."""
        if not env.venv:
            raise Conflict(f"{env.path} has no environment to register; run `uv sync` there first.")
        kernel_name = name or kernel_name_for(env.path, env.name)
        if kernel_name in (NATIVE_KERNEL_NAME, PROJECT_KERNEL_NAME):
            raise Conflict(f"The kernel name {kernel_name!r} is reserved; choose another --name.")
        current = self.kernel_dir / kernel_name / "kernel.json"
        if current.exists():
            on_disk = next((s for s in read_specs(self.kernel_dir) if s.name == kernel_name), None)
            if on_disk is not None and not on_disk.owned:
                raise Conflict(
                    f"A kernelspec named {kernel_name!r} already exists and was not written by "
                    "jupyter_uv_kernels; choose another --name or remove it with "
                    f"`jupyter kernelspec remove {kernel_name}`."
                )
        label = display_name or display_names([env])[env.id]
        spec = build_spec(
            env, label, custom_name=bool(name), custom_display_name=bool(display_name)
        )
        real = os.path.realpath(env.path)
        try:
            write_spec_atomically(self.kernel_dir, kernel_name, spec, kernel_logos(env))
            # One kernel per environment: a spec of ours under another name goes.
            for old in self.owned_specs().values():
                if (
                    old.name != kernel_name
                    and old.env_path
                    and os.path.realpath(old.env_path) == real
                ):
                    remove_spec_dir(old.directory)
            self._set_unregistered(real, False)
        except OSError as e:
            raise KernelspecDirNotWritable(
                f"Cannot write the kernelspec {kernel_name!r} into {self.kernel_dir}: "
                f"{e.strerror or e}. Make it writable or set c.UvKernels.kernelspec_dir."
            ) from e
        env.kernel = kernel_name
        return kernel_name

    def unregister(self, name_or_path: str) -> list[str]:
        """Remove the owned spec(s) with that kernel name or for that environment path."""
        owned = self.owned_specs()
        if name_or_path == PROJECT_KERNEL_NAME and name_or_path in owned:
            raise Conflict(
                "uv-project is not the kernel of one environment, and the next refresh would "
                "bring it back; to stop installing it, set c.UvKernels.project_kernel = False."
            )
        if name_or_path in owned:
            targets = [owned[name_or_path]]
        else:
            real = os.path.realpath(name_or_path)
            targets = [
                s for s in owned.values() if s.env_path and os.path.realpath(s.env_path) == real
            ]
        if not targets:
            other = (self.kernel_dir / name_or_path / "kernel.json").exists()
            raise KernelspecNotFound(
                f"{name_or_path!r} is a kernelspec jupyter_uv_kernels did not write; remove it "
                f"with `jupyter kernelspec remove {name_or_path}`."
                if other
                else f"No kernelspec written by jupyter_uv_kernels matches {name_or_path!r}; "
                "`jupyter uvkernel list` shows the registered kernels."
            )
        for spec in targets:
            try:
                remove_spec_dir(spec.directory)
                if spec.env_path:
                    # Remember it, or the next reconcile would bring the kernel back.
                    self._set_unregistered(os.path.realpath(spec.env_path), True)
            except OSError as e:
                raise KernelspecDirNotWritable(
                    f"Cannot remove {spec.directory}: {e.strerror or e}."
                ) from e
        return [s.name for s in targets]

    # -- environments the user unregistered ----------------------------------------------

    @property
    def _state_file(self) -> Path:
        # Beside the specs (so two servers sharing the dir agree); Jupyter ignores files there.
        return self.kernel_dir / STATE_FILE

    def unregistered(self) -> set[str]:
        """Realpaths of environments whose kernel the user removed on purpose."""
        try:
            data = json.loads(self._state_file.read_text("utf-8"))
        except (OSError, ValueError):
            return set()
        paths = data.get("unregistered") if isinstance(data, dict) else None
        return {p for p in paths if isinstance(p, str)} if isinstance(paths, list) else set()

    def _set_unregistered(self, real_path: str, excluded: bool) -> None:
        paths = self.unregistered()
        if (real_path in paths) == excluded:
            return
        if excluded:
            paths.add(real_path)
        else:
            paths.discard(real_path)
        self.kernel_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{STATE_FILE}.", dir=self.kernel_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"unregistered": sorted(paths)}, f, indent=1)
            os.replace(tmp, self._state_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
