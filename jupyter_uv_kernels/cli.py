"""``jupyter uvkernel``: list, install, remove, refresh, create, sync, doctor and check.

One :class:`JupyterApp` per subcommand (``cli_environments``, ``cli_checks``), on a shared
base (``cli_base``); this module is the parent app and the console script's entry point.
"""

from __future__ import annotations

import sys
from collections.abc import Generator

from jupyter_core.application import JupyterApp

from ._version import __version__
from .cli_add import AddCommand, UninstallCommand
from .cli_checks import CheckCommand, DoctorCommand
from .cli_environments import (
    CreateCommand,
    InstallCommand,
    ListCommand,
    RefreshCommand,
    RemoveCommand,
    SyncCommand,
)
from .cli_jobs import CancelCommand, JobsCommand, SubmitCommand
from .cli_lifecycle import CopyCommand, DeleteCommand, ExportCommand, SizeCommand
from .cli_notebooks import NotebookApp
from .cli_packages import OutdatedCommand, TreeCommand, UpgradeCommand


class UvKernelApp(JupyterApp):
    name = "jupyter-uvkernel"
    version = __version__
    description = """Manage Jupyter kernels for uv projects and venvs.

    Every uv project (pyproject.toml + uv.lock) and venv under the roots becomes a kernel."""
    subcommands = {
        "list": (ListCommand, ListCommand.description.splitlines()[0]),
        "install": (InstallCommand, "Register a kernel for a project or venv."),
        "remove": (RemoveCommand, RemoveCommand.description.splitlines()[0]),
        "size": (SizeCommand, "Disk use of an environment (at least N when slow)."),
        "delete": (DeleteCommand, "Delete a venv, or a project's .venv only."),
        "copy": (CopyCommand, "Copy an environment into a new folder, with a kernel."),
        "export": (ExportCommand, "Export as requirements.txt or pylock.toml."),
        "refresh": (RefreshCommand, "Scan the roots and reconcile the kernels."),
        "create": (CreateCommand, "Create a uv project or venv with a kernel."),
        "add": (AddCommand, "Add packages (or -r FILE) to a project or venv."),
        "uninstall": (UninstallCommand, "Remove packages (uv remove / uv pip uninstall)."),
        "sync": (SyncCommand, "uv sync --frozen a project (or --check it)."),
        "upgrade": (UpgradeCommand, "Upgrade packages (uv lock --upgrade-package + sync)."),
        "outdated": (OutdatedCommand, "Packages with a newer release, and what is allowed."),
        "tree": (TreeCommand, "What depends on what (uv tree); --invert PKG: why."),
        "submit": (SubmitCommand, "Run a notebook or script as a PBS/Slurm batch job."),
        "jobs": (JobsCommand, "The batch jobs submitted from here, with their state."),
        "cancel": (CancelCommand, "Cancel a batch job submitted from here."),
        "notebook": (NotebookApp, "A notebook's own dependencies (PEP 723, as juv keeps them)."),
        "doctor": (DoctorCommand, DoctorCommand.description),
        "check": (
            CheckCommand,
            "Does a notebook's environment match the one it was saved with?",
        ),
    }

    examples = "\n".join(
        [
            "jupyter uvkernel list --root /glade/work/$USER",
            "jupyter uvkernel create /glade/work/$USER/analysis xarray netcdf4",
            "jupyter uvkernel sync --check /glade/work/$USER/colleague-project",
            "jupyter uvkernel create --help",
        ]
    )

    def emit_help(self, classes: bool = False) -> Generator[str, None, None]:
        """The commands and the options they share, not traitlets' generic app options."""
        yield from self.emit_description()
        yield "Commands"
        yield "--------"
        width = max(len(n) for n in self.subcommands)
        for name, (_, help_text) in self.subcommands.items():
            yield f"  {name.ljust(width)}  {help_text}"
        yield ""
        yield "Options every command takes"
        yield "---------------------------"
        yield "  --root DIR               a root to search (repeatable); default: UvKernels.roots,"
        yield "                           else /glade/work/$USER if it exists, else the current dir"
        yield "  --UvKernels.<trait>=X    any setting of the configuration reference"
        yield "  -h, --help               a command's own options: jupyter uvkernel COMMAND --help"
        yield ""
        yield from self.emit_examples()

    def start(self) -> None:
        if self.subapp is None:
            if self.extra_args:
                self._exit_with(f"unknown command {self.extra_args[0]!r}")
            self._exit_with("no command given")
        super().start()

    def _exit_with(self, problem: str) -> None:
        print(
            f"jupyter uvkernel: error: {problem}; choose one of: {', '.join(self.subcommands)}",
            file=sys.stderr,
        )
        self.exit(2)


main = UvKernelApp.launch_instance

if __name__ == "__main__":  # pragma: no cover
    main()
