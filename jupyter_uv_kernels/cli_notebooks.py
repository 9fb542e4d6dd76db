"""``jupyter uvkernel notebook show|add|remove|upgrade|lock|tree|outdated|self-contained|
to-project NB``: a notebook's own dependencies (PEP 723, in juv's format) from a terminal.
The same domain calls as the ``notebooks/…`` routes (:mod:`notebook_deps`,
:mod:`notebook_convert`); the notebook must lie inside the roots, as for the server."""

from __future__ import annotations

import json
import os
import sys

from jupyter_core.application import JupyterApp
from traitlets import Bool, Unicode

from ._version import __version__
from .cli_base import UvKernelCommand, _progress, common_aliases, common_flags
from .dependency_tree import render_tree
from .notebook_convert import make_self_contained, plan_self_contained
from .notebook_deps import (
    edit_notebook,
    notebook_outdated,
    notebook_tree,
    resolve_notebook,
)
from .notebook_project import to_project
from .notebook_script import load_notebook
from .service_notebooks import describe_notebook
from .upgrades import render_outdated


class NotebookCommand(UvKernelCommand):
    """NB [PACKAGE …] with --json."""

    max_positionals = None
    json_output = Bool(False, help="Print JSON (what the REST route answers).").tag(config=True)

    flags = {**common_flags, "json": ({"NotebookCommand": {"json_output": True}}, "Print JSON.")}

    def fail(self, message: str, code: int = 2) -> None:
        command = self.name.removeprefix("jupyter-uvkernel-notebook-")
        print(f"jupyter uvkernel notebook {command}: error: {message}", file=sys.stderr)
        self.exit(code)

    def notebook(self) -> str:
        if not self.extra_args:
            self.fail("expected NOTEBOOK (a .ipynb file): see --help")
        catalog = self._catalog()
        self.catalog = catalog
        return resolve_notebook(catalog, os.getcwd(), self.extra_args[0])

    def show(self, real: str) -> None:
        reply = describe_notebook(
            load_notebook(real), self.catalog.config.effective_script_env_dir()
        )
        if self.json_output:
            print(json.dumps(reply, indent=2))
            return
        if reply["problem"]:
            print(f"problem: {reply['problem']}")
        if not reply["self_contained"]:
            print(f"{real} has no inline dependencies ('# /// script' block).")
            return
        state = "locked" if reply["locked"] else "not locked"
        print(f"{real} (requires-python {reply['requires_python'] or 'any'}, {state})")
        for dep in reply["dependencies"]:
            pin = f"  (locked {dep['locked_version']})" if dep["locked_version"] else ""
            print(f"  {dep['requirement']}{pin}")
        env = reply["environment"]
        if env:
            print(
                f"kernel uv-script, environment {env['key']} "
                + ("(built)" if env["built"] else "(not built yet)")
            )


class NotebookShowCommand(NotebookCommand):
    name = "jupyter-uvkernel-notebook-show"
    description = "A notebook's inline dependencies, lock and environment."
    examples = "jupyter uvkernel notebook show fig3.ipynb --json"

    def execute(self) -> None:
        self.show(self.notebook())


class NotebookEditCommand(NotebookCommand):
    action = ""
    takes_packages = True
    requires_python = Unicode(
        "", help="add to a notebook without a block: its requires-python (e.g. '>=3.11')."
    ).tag(config=True)

    def execute(self) -> None:
        real = self.notebook()
        packages = self.extra_args[1:]
        rp = self.requires_python or None
        self.run(
            edit_notebook(
                self.catalog.runner,
                real,
                self.action,
                packages,
                requires_python=rp,
                on_line=_progress,
            )
        )
        print(
            f"{self.action}: done; the uv-script kernel builds the new environment at its "
            "next start.",
            file=sys.stderr,
        )
        self.show(real)


class NotebookAddCommand(NotebookEditCommand):
    name = "jupyter-uvkernel-notebook-add"
    description = "Add packages to a notebook's inline dependencies (uv add --script)."
    examples = "jupyter uvkernel notebook add fig3.ipynb 'xarray>=2024.1' netcdf4"
    action = "add"
    aliases = {**common_aliases, "python": "NotebookEditCommand.requires_python"}


class NotebookRemoveCommand(NotebookEditCommand):
    name = "jupyter-uvkernel-notebook-remove"
    description = "Remove packages from a notebook's inline dependencies (uv remove --script)."
    examples = "jupyter uvkernel notebook remove fig3.ipynb netcdf4"
    action = "remove"


class NotebookUpgradeCommand(NotebookEditCommand):
    name = "jupyter-uvkernel-notebook-upgrade"
    description = """Move packages in a notebook's lock to the newest versions its block
    allows (uv lock --script --upgrade-package); no names: all. Locks an unlocked notebook."""
    examples = "jupyter uvkernel notebook upgrade fig3.ipynb xarray"
    action = "upgrade"


class NotebookLockCommand(NotebookEditCommand):
    name = "jupyter-uvkernel-notebook-lock"
    description = (
        "Lock (or relock) a notebook's inline dependencies into its metadata (uv lock --script)."
    )
    examples = "jupyter uvkernel notebook lock fig3.ipynb"
    action = "lock"


class NotebookTreeCommand(NotebookCommand):
    name = "jupyter-uvkernel-notebook-tree"
    description = "A notebook's dependency tree (uv tree --script); --invert PKG: what requires it."
    examples = "jupyter uvkernel notebook tree fig3.ipynb --invert numpy"
    invert = Unicode("", help="Show what requires this package.").tag(config=True)
    aliases = {**common_aliases, "invert": "NotebookTreeCommand.invert"}

    def execute(self) -> None:
        real = self.notebook()
        reply = self.run(
            notebook_tree(
                self.catalog.runner, real, invert=bool(self.invert), package=self.invert or None
            )
        )
        print(json.dumps(reply, indent=2) if self.json_output else "\n".join(render_tree(reply)))


class NotebookOutdatedCommand(NotebookCommand):
    name = "jupyter-uvkernel-notebook-outdated"
    description = """The packages of a locked notebook with a newer release (uv tree --script
    --outdated) and what its block allows beyond its lock (uv lock --script --upgrade
    --dry-run): what `jupyter uvkernel notebook upgrade` would lock."""
    examples = "jupyter uvkernel notebook outdated fig3.ipynb"

    def execute(self) -> None:
        real = self.notebook()
        reply = self.run(notebook_outdated(self.catalog.runner, real))
        if self.json_output:
            print(json.dumps(reply, indent=2))
            return
        if not reply["packages"]:
            print("Everything in the notebook's lock is at its newest release.")
            return
        print("\n".join(render_outdated(reply["packages"])))
        print(
            "\nALLOWED is what the notebook's block lets an upgrade lock; "
            f"`jupyter uvkernel notebook upgrade {self.extra_args[0]} PKG` locks it."
        )


class NotebookSelfContainedCommand(NotebookCommand):
    name = "jupyter-uvkernel-notebook-self-contained"
    description = """Write a notebook's dependencies into it (a PEP 723 block, as juv does):
    from an environment's direct dependencies (--from environment, the default) or from the
    notebook's imports (--from imports), with --env DIR or the notebook's own uv kernel."""
    examples = """
    jupyter uvkernel notebook self-contained fig3.ipynb
    jupyter uvkernel notebook self-contained fig3.ipynb --from imports --env ../analysis
    """
    source = Unicode("environment", help="environment or imports.").tag(config=True)
    env = Unicode("", help="The environment (a project or venv dir).").tag(config=True)
    aliases = {
        **common_aliases,
        "from": "NotebookSelfContainedCommand.source",
        "env": "NotebookSelfContainedCommand.env",
    }

    def execute(self) -> None:
        real = self.notebook()
        env = self.inspect_path(self.catalog, os.path.abspath(self.env)) if self.env else None
        kernel_dir = str(self.catalog.reconciler.kernel_dir)
        plan = self.run(
            plan_self_contained(self.catalog, real, self.source, env, kernel_dir=kernel_dir)
        )
        message = self.run(make_self_contained(self.catalog.runner, real, plan, on_line=_progress))
        if self.json_output:
            print(json.dumps(plan.to_json(), indent=2))
            return
        print(message)
        print(f"(from {plan.source} of {plan.environment})")


class NotebookToProjectCommand(NotebookCommand):
    name = "jupyter-uvkernel-notebook-to-project"
    description = """Make a notebook's folder a uv project (pyproject.toml, uv.lock, .venv with
    ipykernel as a dev dependency) from its inline dependencies; the notebook is untouched."""
    examples = "jupyter uvkernel notebook to-project fig3.ipynb"

    def execute(self) -> None:
        real = self.notebook()
        result = self.run(to_project(self.catalog.runner, real, on_line=_progress))
        if self.json_output:
            print(json.dumps(result, indent=2))
            return
        kept = f", at the {result['pinned']} versions the notebook's lock holds" * bool(
            result["pinned"]
        )
        print(
            f"{result['project']} is now a uv project{kept}; `jupyter uvkernel refresh` "
            "registers its kernel."
        )


class NotebookApp(JupyterApp):
    name = "jupyter-uvkernel-notebook"
    version = __version__
    description = """A notebook's own dependencies (PEP 723 inline metadata and lock, in juv's
    format): read, edit, and convert."""
    subcommands = {
        "show": (NotebookShowCommand, NotebookShowCommand.description),
        "add": (NotebookAddCommand, "Add packages (uv add --script)."),
        "remove": (NotebookRemoveCommand, "Remove packages (uv remove --script)."),
        "upgrade": (
            NotebookUpgradeCommand,
            "Upgrade locked packages (uv lock --script --upgrade-package).",
        ),
        "lock": (NotebookLockCommand, "Lock or relock (uv lock --script)."),
        "tree": (NotebookTreeCommand, "The dependency tree (uv tree --script)."),
        "outdated": (NotebookOutdatedCommand, "What the block allows beyond the lock."),
        "self-contained": (
            NotebookSelfContainedCommand,
            "Write the dependencies into the notebook.",
        ),
        "to-project": (NotebookToProjectCommand, "Make the notebook's folder a uv project."),
    }

    @classmethod
    def clear_instance(cls) -> None:
        """Also forget the subcommands' instances (they are singletons too), so one process
        can run several notebook commands (the tests run the CLI in-process)."""
        for command, _ in cls.subcommands.values():
            if isinstance(command, type) and issubclass(command, JupyterApp):
                command.clear_instance()
        super().clear_instance()

    def start(self) -> None:
        if self.subapp is None:
            print(
                "jupyter uvkernel notebook: error: choose one of: " + ", ".join(self.subcommands),
                file=sys.stderr,
            )
            self.exit(2)
        super().start()
