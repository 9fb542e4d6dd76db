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
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from jupyter_core.paths import jupyter_path

from .environments import Environment, kernel_name_for
from .errors import Conflict, KernelspecDirNotWritable, KernelspecNotFound

# The spec format and file handling live in kernelspec_files; the names other modules use
# are re-exported here, so "kernelspecs" stays the one place to import them from.
from .kernelspec_files import (
    OWNER_KEY,
    PROBE_LOGO,
    PROJECT_KERNEL_DISPLAY_NAME,
    PROJECT_KERNEL_KIND,
    PROJECT_KERNEL_NAME,
    SCRIPT_KERNEL_DISPLAY_NAME,
    SCRIPT_KERNEL_KIND,
    SCRIPT_KERNEL_NAME,
    SPEC_FORMAT,
    STAGING_DIR,
    STATE_FILE,
    SpecOnDisk,
    build_project_kernel_spec,
    build_script_kernel_spec,
    build_spec,
    display_names,
    kernel_logos,
    read_spec,
    read_specs,
    remove_spec_dir,
    spec_environment_exists,
    user_specs_by_bin_dir,
    write_spec_atomically,
)

__all__ = [
    "OWNER_KEY",
    "PROJECT_KERNEL_DISPLAY_NAME",
    "PROJECT_KERNEL_KIND",
    "PROJECT_KERNEL_NAME",
    "SCRIPT_KERNEL_DISPLAY_NAME",
    "SCRIPT_KERNEL_KIND",
    "SCRIPT_KERNEL_NAME",
    "SPEC_FORMAT",
    "STAGING_DIR",
    "KernelspecReconciler",
    "ReconcileResult",
    "SpecOnDisk",
    "build_spec",
    "read_spec",
    "read_specs",
    "spec_environment_exists",
]

log = logging.getLogger(__name__)


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


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class KernelspecReconciler:
    """Applies the rules in the module docstring to one kernelspec directory."""

    def __init__(
        self,
        kernel_dir: str | os.PathLike[str],
        search_dirs: list[str] | None = None,
        *,
        project_kernel: bool = True,
        script_kernel: bool = True,
    ):
        self.kernel_dir = Path(kernel_dir)
        #: Whether the ``uv-project`` kernel is kept in ``kernel_dir``.
        self.project_kernel = project_kernel
        #: Whether the ``uv-script`` kernel is kept in ``kernel_dir``.
        self.script_kernel = script_kernel
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

        self._reconcile_fixed_kernel(result, existing, wanted, PROJECT_KERNEL_NAME)
        self._reconcile_fixed_kernel(result, existing, wanted, SCRIPT_KERNEL_NAME)

        roots = [os.path.abspath(r) for r in scanned_roots]
        seen = {e.path for e in envs}
        for name, old in sorted(existing.items()):
            if name in desired or old.is_fixed_kernel:
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

    def _reconcile_fixed_kernel(
        self,
        result: ReconcileResult,
        existing: dict[str, SpecOnDisk],
        wanted: list[Environment],
        name: str,
    ) -> None:
        """Keep ``uv-project`` or ``uv-script`` on disk (batch jobs need them too), or
        remove it when disabled."""
        old = existing.get(name)
        project = name == PROJECT_KERNEL_NAME
        try:
            if not (self.project_kernel if project else self.script_kernel):
                if old is not None:
                    remove_spec_dir(old.directory)
                    result.removed.append(name)
                return
            if old is None and (self.kernel_dir / name / "kernel.json").exists():
                log.warning(
                    "uv-kernels: a kernelspec named %r that jupyter_uv_kernels did not write "
                    "exists in %s; the %s kernel is not installed.",
                    name,
                    self.kernel_dir,
                    name,
                )
                return
            logos = kernel_logos(wanted[0]) if wanted and old is None else None
            spec = build_project_kernel_spec() if project else build_script_kernel_spec()
            if write_spec_atomically(self.kernel_dir, name, spec, logos):
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
        if kernel_name in (NATIVE_KERNEL_NAME, PROJECT_KERNEL_NAME, SCRIPT_KERNEL_NAME):
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
        if name_or_path in (PROJECT_KERNEL_NAME, SCRIPT_KERNEL_NAME) and name_or_path in owned:
            trait = "project_kernel" if name_or_path == PROJECT_KERNEL_NAME else "script_kernel"
            raise Conflict(
                f"{name_or_path} is not the kernel of one environment, and the next refresh "
                f"would bring it back; to stop installing it, set c.UvKernels.{trait} = False."
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
