"""``jupyter uvkernel``: list, install, remove, refresh, create, sync, doctor and check.

One :class:`JupyterApp` per subcommand. Every subcommand takes ``--root DIR`` (repeatable)
and ``--UvKernels.<trait>=…``. User errors print one line on stderr and exit 2; a failed
uv command exits 1 with uv's own error line. uv's output streams to stderr as progress.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Unicode

from ._version import __version__
from .catalog import EnvironmentCatalog
from .config import UvKernels
from .doctor import run_doctor
from .environments import Environment
from .errors import InvalidRequest, NotAnEnvironment, UvFailed, UvKernelsError
from .provenance import check_notebook

T = TypeVar("T")

common_aliases = {**base_aliases, "root": "UvKernels.roots"}
common_flags = {**base_flags}


def _progress(stream: str, line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


class UvKernelCommand(JupyterApp):
    """Shared plumbing: the catalog, error handling, argument checks."""

    version = __version__
    aliases = common_aliases
    flags = common_flags
    classes = [UvKernels]

    def parse_command_line(self, argv: list[str] | None = None) -> None:
        """Let options and positionals mix (``create PATH --python 3.12 numpy``).

        traitlets' parser stops taking positionals after the first option, so options go
        first and positionals after a ``--``. A dash-word that is no option of ours stays a
        positional, so that ``--index-url=…`` given as a package gets our one-line error.
        """
        argv = sys.argv[1:] if argv is None else list(argv)
        with_value = {f"--{a}" for a in self.aliases} | {f"-{a}" for a in self.aliases}
        known = {f"--{f}" for f in self.flags} | {f"-{f}" for f in self.flags}
        known |= {"-h", "--help", "--help-all", "--version"}
        options: list[str] = []
        positionals: list[str] = []
        tokens = iter(argv)
        for token in tokens:
            if token == "--":
                positionals.extend(tokens)
                break
            name = token.split("=", 1)[0]
            if name in with_value or (name.startswith("--") and "." in name):
                options.append(token)
                value = None if "=" in token else next(tokens, None)
                if value is not None:
                    options.append(value)
            elif name in known:
                options.append(token)
            else:
                positionals.append(token)
        super().parse_command_line([*options, "--", *positionals] if positionals else options)

    def _catalog(self) -> EnvironmentCatalog:
        return EnvironmentCatalog(UvKernels(parent=self), fallback_root=os.getcwd())

    def fail(self, message: str, code: int = 2) -> None:
        print(f"jupyter uvkernel {self.name.split('-')[-1]}: error: {message}", file=sys.stderr)
        self.exit(code)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def one_path(self, what: str = "PATH") -> str:
        if len(self.extra_args) != 1:
            self.fail(f"expected exactly one {what}, got {len(self.extra_args)}: see --help")
        return self.extra_args[0]

    def inspect_path(self, catalog: EnvironmentCatalog, path: str) -> Environment:
        if not os.path.exists(path):
            raise NotAnEnvironment(f"{path} does not exist.")
        return catalog.inspect(path)

    def start(self) -> None:
        try:
            self.execute()
        except UvFailed as e:
            self.fail(e.message, 1)
        except UvKernelsError as e:
            self.fail(e.message, 2)
        except KeyboardInterrupt:
            self.fail("interrupted", 130)

    def execute(self) -> None:
        raise NotImplementedError


class ListCommand(UvKernelCommand):
    name = "jupyter-uvkernel-list"
    description = "List the uv projects and venvs found under the roots, with their status."
    examples = """
    jupyter uvkernel list
    jupyter uvkernel list --json --root /glade/work/$USER --root /glade/campaign/univ/abc/$USER
    """
    json_output = Bool(False, help="Print the environment records as JSON.").tag(config=True)
    flags = {
        **common_flags,
        "json": ({"ListCommand": {"json_output": True}}, "Print the records as JSON."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        result = catalog.scan()
        catalog.reconciler.annotate(result.environments)
        for path in result.skipped:
            print(f"warning: could not read {path}; skipped it.", file=sys.stderr)
        if self.json_output:
            payload = {
                "environments": [e.to_json() for e in result.environments],
                "partial": result.partial,
                "roots": result.roots,
                "skipped": result.skipped,
                "scan_seconds": round(result.duration, 4),
            }
            print(json.dumps(payload, indent=1))
            return
        if not result.environments:
            print(f"No uv environments under {', '.join(result.roots)}.")
            return
        rows = [("NAME", "KIND", "PYTHON", "STATUS", "KERNEL", "PATH")]
        for e in result.environments:
            rows.append(
                (e.name, e.kind, e.python or "-", e.status, e.kernel or "-", e.relpath or e.path)
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, row in enumerate(rows):
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            env = result.environments[i - 1] if i else None
            if env is not None and env.problem:
                print(f"    ↳ {env.problem}")
        tail = " (PARTIAL: the scan hit its time budget)" if result.partial else ""
        print(f"\n{len(result.environments)} environments in {result.duration:.2f} s{tail}.")


class InstallCommand(UvKernelCommand):
    name = "jupyter-uvkernel-install"
    description = """Register a kernel for an existing uv project or venv. Adds ipykernel first
    when it is missing: `uv add --dev ipykernel` for a project (so `uv sync` keeps it),
    `uv pip install ipykernel` for a venv."""
    examples = """
    jupyter uvkernel install /glade/work/$USER/analysis
    jupyter uvkernel install ./venvs/py312 --name py312 --display-name "Python 3.12 (CESM tools)"
    """
    kernel_name = Unicode("", help="Kernel name (default uv-<slug>-<hash>).").tag(config=True)
    display_name = Unicode("", help="Display name shown in the launcher.").tag(config=True)
    add_ipykernel = Bool(True, help="Install ipykernel when it is missing.").tag(config=True)
    aliases = {
        **common_aliases,
        "name": "InstallCommand.kernel_name",
        "display-name": "InstallCommand.display_name",
    }
    flags = {
        **common_flags,
        "no-add-ipykernel": (
            {"InstallCommand": {"add_ipykernel": False}},
            "Fail instead of installing ipykernel when it is missing.",
        ),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        if env.status in ("broken", "no-environment"):
            raise InvalidRequest(f"{env.path} cannot get a kernel: {env.problem}")
        if not env.has_ipykernel:
            if not self.add_ipykernel:
                raise InvalidRequest(
                    f"{env.path} has no ipykernel and --no-add-ipykernel was given; install it "
                    + (
                        f"with `uv add --dev --project {env.path} ipykernel`"
                        if env.kind == "project"
                        else f"with `uv pip install --python {env.interpreter} ipykernel`"
                    )
                    + " or drop --no-add-ipykernel."
                )
            print(f"Adding ipykernel to {env.path}…", file=sys.stderr)
            env = self.run(catalog.ensure_ipykernel(env, on_line=_progress))
        name = catalog.register(
            env, name=self.kernel_name or None, display_name=self.display_name or None
        )
        print(f"Installed kernel {name} for {env.path}")


class RemoveCommand(UvKernelCommand):
    name = "jupyter-uvkernel-remove"
    description = "Remove a kernel written by jupyter_uv_kernels, by kernel name or env path."
    examples = """
    jupyter uvkernel remove uv-analysis-1a2b3c4d
    jupyter uvkernel remove /glade/work/$USER/analysis
    """

    def execute(self) -> None:
        target = self.one_path("NAME or PATH")
        catalog = self._catalog()
        for name in catalog.reconciler.unregister(target):
            print(f"Removed kernel {name}")


class RefreshCommand(UvKernelCommand):
    name = "jupyter-uvkernel-refresh"
    description = """Scan the roots and reconcile the kernels: add kernels for new ready
    environments, update changed ones, remove those whose environment is gone."""
    examples = "jupyter uvkernel refresh --root /glade/work/$USER"

    def execute(self) -> None:
        catalog = self._catalog()
        result, rec = catalog.refresh()
        for label, names in (
            ("added", rec.added),
            ("updated", rec.updated),
            ("removed", rec.removed),
        ):
            for name in names:
                print(f"{label:8} {name}")
        for path, spec in sorted(rec.user_owned.items()):
            print(f"kept     {path} uses your own kernel {spec}")
        partial = (
            " (partial scan: nothing outside what was seen was removed)" if result.partial else ""
        )
        print(
            f"{len(result.environments)} environments, {rec.changes} changes "
            f"({len(rec.added)} added, {len(rec.updated)} updated, {len(rec.removed)} removed)"
            f"{partial}."
        )
        for err in rec.errors:
            print(f"error: {err}", file=sys.stderr)
        if rec.errors:
            self.exit(1)


class CreateCommand(UvKernelCommand):
    name = "jupyter-uvkernel-create"
    description = """Create a uv project (`uv init` + `uv add ipykernel PKG…`) or, with
    --venv, a venv (`uv venv` + `uv pip install ipykernel PKG…`), and register its kernel."""
    examples = """
    jupyter uvkernel create /glade/work/$USER/analysis numpy xarray
    jupyter uvkernel create ./scratch-env --venv --python 3.12 "pandas>=2"
    """
    python = Unicode("", help="Python version (3.12) or interpreter path.").tag(config=True)
    venv = Bool(False, help="Create a plain uv venv instead of a project.").tag(config=True)
    aliases = {**common_aliases, "python": "CreateCommand.python"}
    flags = {
        **common_flags,
        "venv": ({"CreateCommand": {"venv": True}}, "Create a uv venv instead of a project."),
    }

    def execute(self) -> None:
        if not self.extra_args:
            self.fail("expected PATH [PKG …]: see --help")
        path, *packages = self.extra_args
        catalog = self._catalog()
        kind = "venv" if self.venv else "project"
        print(f"Creating {kind} {os.path.abspath(path)}…", file=sys.stderr)
        env = self.run(
            catalog.create(
                path, kind=kind, python=self.python or None, packages=packages, on_line=_progress
            )
        )
        print(f"Created {env.kind} {env.path} (Python {env.python}); kernel {env.kernel}")


class SyncCommand(UvKernelCommand):
    name = "jupyter-uvkernel-sync"
    description = """Make a project's .venv match its uv.lock exactly (`uv sync --frozen`).
    With --check, only report: exit 0 when in sync, 1 when not."""
    examples = """
    jupyter uvkernel sync /glade/work/$USER/analysis
    jupyter uvkernel sync --check .
    """
    check = Bool(False, help="Only check (uv sync --check); exit 1 when out of sync.").tag(
        config=True
    )
    relock = Bool(False, help="Allow uv to update uv.lock (plain `uv sync`).").tag(config=True)
    flags = {
        **common_flags,
        "check": ({"SyncCommand": {"check": True}}, "Only report drift; exit 1 if out of sync."),
        "relock": ({"SyncCommand": {"relock": True}}, "Allow uv.lock to be updated."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        if env.kind != "project":
            raise InvalidRequest(f"{env.path} is a venv; only uv projects have a lock to sync.")
        if self.check:
            answer = self.run(catalog.check_sync(env))
            print(answer["output"])
            if not answer["in_sync"]:
                print(f"{env.path} is out of sync with its uv.lock.", file=sys.stderr)
                self.exit(1)
            print(f"{env.path} is in sync with its uv.lock.")
            return
        env = self.run(catalog.sync(env, relock=self.relock, on_line=_progress))
        if env.gets_kernel:
            catalog.register(env)
        print(f"Synced {env.path}: {env.status}")


class DoctorCommand(UvKernelCommand):
    name = "jupyter-uvkernel-doctor"
    description = "Check uv, its cache, conda leakage, the roots and the kernelspec directory."
    examples = "jupyter uvkernel doctor --json"
    json_output = Bool(False, help="Print the findings as JSON.").tag(config=True)
    flags = {
        **common_flags,
        "json": ({"DoctorCommand": {"json_output": True}}, "Print the findings as JSON."),
    }

    def execute(self) -> None:
        findings = self.run(run_doctor(self._catalog()))
        errors = [f for f in findings if f.level == "error"]
        if self.json_output:
            print(
                json.dumps(
                    {"ok": not errors, "findings": [f.to_json() for f in findings]}, indent=1
                )
            )
        else:
            marks = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}
            for f in findings:
                print(f"[{marks[f.level]}] {f.check}: {f.message}")
                if f.fix and f.level != "ok":
                    print(f"       fix: {f.fix}")
        if errors:
            self.exit(1)


class CheckCommand(UvKernelCommand):
    name = "jupyter-uvkernel-check"
    description = """Tell whether a notebook's environment here matches the one it was saved
    with (the provenance JupyterLab records in its metadata). Exit 0 when it matches (or
    nothing was recorded), 1 when it differs or cannot start here."""
    examples = "jupyter uvkernel check analysis/notebooks/fig3.ipynb"

    def execute(self) -> None:
        catalog = self._catalog()
        try:
            uv_version: str | None = self.run(catalog.runner.version())
        except UvKernelsError:
            uv_version = None
        kernel_dir = str(catalog.reconciler.kernel_dir)
        answer = check_notebook(self.one_path("NOTEBOOK"), kernel_dir, uv_version)
        print("\n".join(answer.lines()))
        if not answer.matches:
            self.exit(1)


class UvKernelApp(JupyterApp):
    name = "jupyter-uvkernel"
    version = __version__
    description = """Manage Jupyter kernels for uv projects and venvs.

    Every uv project (pyproject.toml + uv.lock) and venv under the roots becomes a kernel."""
    subcommands = {
        "list": (ListCommand, ListCommand.description.splitlines()[0]),
        "install": (InstallCommand, "Register a kernel for a project or venv."),
        "remove": (RemoveCommand, RemoveCommand.description.splitlines()[0]),
        "refresh": (RefreshCommand, "Scan the roots and reconcile the kernels."),
        "create": (CreateCommand, "Create a uv project or venv with a kernel."),
        "sync": (SyncCommand, "uv sync --frozen a project (or --check it)."),
        "doctor": (DoctorCommand, DoctorCommand.description),
        "check": (
            CheckCommand,
            "Does this notebook's environment match the one it was saved with?",
        ),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("No subcommand given; choose one of: " + ", ".join(self.subcommands))
            self.print_subcommands()
            self.exit(2)
        super().start()


main = UvKernelApp.launch_instance

if __name__ == "__main__":  # pragma: no cover
    main()
