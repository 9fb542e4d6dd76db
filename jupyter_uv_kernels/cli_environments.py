"""``jupyter uvkernel`` subcommands that act on environments and their kernels:
list, install, remove, refresh, create and sync."""

from __future__ import annotations

import json
import os
import sys

from traitlets import Bool, Unicode

from .catalog import parse_requirements
from .cli_add import INDEX_HELP, REQUIREMENTS_HELP, absolute_requirements_file
from .cli_base import UvKernelCommand, _progress, common_aliases, common_flags
from .discovery import ScanResult
from .errors import InvalidRequest, OutsideRoots
from .scan_share import describe_reuse

FRESH_HELP = """Walk the roots now, even when another process (a server, an earlier
refresh) walked them less than UvKernels.scan_share_seconds ago with the same roots and
pruning; that recent walk is reused otherwise."""


def _reuse_note(result: ScanResult) -> str:
    note = describe_reuse(result)
    return f"; {note} (--fresh walks again)" if note else ""


class ListCommand(UvKernelCommand):
    name = "jupyter-uvkernel-list"
    description = "List the uv projects and venvs found under the roots, with their status."
    examples = """
    jupyter uvkernel list
    jupyter uvkernel list --json --root /glade/work/$USER --root /glade/campaign/univ/abc/$USER
    """
    max_positionals = 0
    json_output = Bool(False, help="Print the environment records as JSON.").tag(config=True)
    fresh = Bool(False, help=FRESH_HELP).tag(config=True)
    flags = {
        **common_flags,
        "json": ({"ListCommand": {"json_output": True}}, "Print the records as JSON."),
        "fresh": ({"ListCommand": {"fresh": True}}, "Walk the roots now (no reuse)."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        result = catalog.scan(fresh=self.fresh)
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
                "shared_from": result.shared_from,
                "shared_age": result.shared_age,
            }
            print(json.dumps(payload, indent=1))
            return
        if not result.environments:
            print(f"No uv environments under {', '.join(result.roots)}{_reuse_note(result)}.")
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
        took = _reuse_note(result) or f" in {result.duration:.2f} s"
        print(f"\n{len(result.environments)} environments{took}{tail}.")


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
    environments, update changed ones, remove those whose environment is gone. A walk of
    the same roots by another process (a server, a refresh in another job) less than
    UvKernels.scan_share_seconds old is reused instead of walking again; --fresh walks."""
    examples = """
    jupyter uvkernel refresh --root /glade/work/$USER
    jupyter uvkernel refresh --fresh
    """
    max_positionals = 0
    fresh = Bool(False, help=FRESH_HELP).tag(config=True)
    flags = {
        **common_flags,
        "fresh": ({"RefreshCommand": {"fresh": True}}, "Walk the roots now (no reuse)."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        result, rec = catalog.refresh(fresh=self.fresh)
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
            f"{partial}{_reuse_note(result)}."
        )
        for err in rec.errors:
            print(f"error: {err}", file=sys.stderr)
        if rec.errors:
            self.exit(1)


class CreateCommand(UvKernelCommand):
    name = "jupyter-uvkernel-create"
    description = """Create a uv project (`uv init` + `uv add ipykernel PKG…`) or, with
    --venv, a venv (`uv venv` + `uv pip install ipykernel PKG…`), and register its kernel.
    With -r FILE, the requirements file is installed after ipykernel."""
    examples = """
    jupyter uvkernel create /glade/work/$USER/analysis numpy xarray
    jupyter uvkernel create ./scratch-env --venv --python 3.12 "pandas>=2"
    jupyter uvkernel create ./paper-env -r ./paper/requirements.txt
    jupyter uvkernel create ./gpu-env torch --index pytorch-cu124
    """
    max_positionals = None
    takes_packages = True
    python = Unicode("", help="Python version (3.12) or interpreter path.").tag(config=True)
    venv = Bool(False, help="Create a plain uv venv instead of a project.").tag(config=True)
    requirements_file = Unicode("", help=REQUIREMENTS_HELP).tag(config=True)
    index = Unicode("", help=INDEX_HELP).tag(config=True)
    aliases = {
        **common_aliases,
        "python": "CreateCommand.python",
        "r": "CreateCommand.requirements_file",
        "requirements": "CreateCommand.requirements_file",
        "index": "CreateCommand.index",
    }
    flags = {
        **common_flags,
        "venv": ({"CreateCommand": {"venv": True}}, "Create a uv venv instead of a project."),
    }

    def execute(self) -> None:
        if not self.extra_args:
            self.fail("expected PATH [PKG …]: see --help")
        path, *packages = self.extra_args
        parse_requirements(packages)  # a bad one is an error before anything is made
        catalog = self._catalog()
        # As in the REST API: only inside a root (pass the path's own root with --root).
        try:
            path = catalog.confine(os.path.abspath(path))
        except OutsideRoots:
            roots = ", ".join(str(r) for r in catalog.roots)
            self.fail(
                f"{path} is outside the roots ({roots}); create it inside one, or pass its "
                f"root: --root {os.path.dirname(os.path.abspath(path))}"
            )
        kind = "venv" if self.venv else "project"
        file = absolute_requirements_file(self, catalog, self.requirements_file)
        print(f"Creating {kind} {os.path.abspath(path)}…", file=sys.stderr)
        env = self.run(
            catalog.create(
                path,
                kind=kind,
                python=self.python or None,
                packages=packages,
                requirements_file=file,
                index=self.index or None,
                on_line=_progress,
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
            if env.status == "no-environment":
                print(
                    f"{env.path} has no environment yet (no .venv); create it from uv.lock "
                    f"with `jupyter uvkernel sync {env.path}`.",
                    file=sys.stderr,
                )
                self.exit(1)
            answer = self.run(catalog.check_sync(env))
            print(answer["output"])
            if not answer["in_sync"]:
                print(
                    f"{env.path} is out of sync with its uv.lock; make it match with "
                    f"`jupyter uvkernel sync {env.path}` (uv sync --frozen).",
                    file=sys.stderr,
                )
                self.exit(1)
            print(f"{env.path} is in sync with its uv.lock.")
            return
        env = self.run(catalog.sync(env, relock=self.relock, on_line=_progress))
        if env.gets_kernel:
            catalog.register(env)
        print(f"Synced {env.path}: {env.status}")
