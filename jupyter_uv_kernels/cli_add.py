"""``jupyter uvkernel add``: packages into a project (``uv add``) or a venv (``uv pip
install``), from the command line, a requirements file (``-r FILE``) or both, optionally
from a named index (``--index NAME``). The same domain call as ``POST
environments/{id}/packages``. And ``jupyter uvkernel uninstall``, its reverse (``uv
remove`` / ``uv pip uninstall``), the domain call of ``DELETE
environments/{id}/packages/{name}``."""

from __future__ import annotations

import os
import sys

from traitlets import Bool, Unicode

from .catalog import EnvironmentCatalog, parse_requirements
from .cli_base import UvKernelCommand, _progress, common_aliases, common_flags
from .errors import OutsideRoots

REQUIREMENTS_HELP = """A requirements file (*.txt, *.in; a pylock.toml for venvs) inside the
roots: `uv add -r FILE` (project) or `uv pip install -r FILE` (venv). Lines that choose
indexes, other files or editable installs are refused."""
INDEX_HELP = """Name of an index to install from: one of UvKernels.indexes, or (projects) of
the project's [[tool.uv.index]]. A project records it (`uv add --index NAME=URL`)."""


def absolute_requirements_file(
    command: UvKernelCommand, catalog: EnvironmentCatalog, value: str
) -> str | None:
    """``-r FILE`` relative to the current directory (the REST API's are relative to the
    first root), and a hint when it lies outside the roots."""
    if not value:
        return None
    path = os.path.abspath(os.path.expanduser(value))
    try:
        return catalog.confine(path, "requirements file")
    except OutsideRoots:
        roots = ", ".join(str(r) for r in catalog.roots)
        command.fail(
            f"{path} is outside the roots ({roots}); use a file inside one, or pass its root: "
            f"--root {os.path.dirname(path)}"
        )
        raise  # fail() exits


class AddCommand(UvKernelCommand):
    name = "jupyter-uvkernel-add"
    description = """Add packages to a uv project (`uv add`, undone if it fails) or a venv
    (`uv pip install`): given as arguments, in a requirements file (-r FILE), or both."""
    examples = """
    jupyter uvkernel add /glade/work/$USER/analysis xarray "netcdf4>=1.6"
    jupyter uvkernel add . -r requirements.txt
    jupyter uvkernel add ./gpu-env torch --index pytorch-cu124
    """
    max_positionals = None
    takes_packages = True
    requirements_file = Unicode("", help=REQUIREMENTS_HELP).tag(config=True)
    index = Unicode("", help=INDEX_HELP).tag(config=True)
    aliases = {
        **common_aliases,
        "r": "AddCommand.requirements_file",
        "requirements": "AddCommand.requirements_file",
        "index": "AddCommand.index",
    }

    def execute(self) -> None:
        if not self.extra_args:
            self.fail("expected PATH [PKG …] [-r FILE]: see --help")
        path, *packages = self.extra_args
        parse_requirements(packages)  # a bad one is an error before anything runs
        if not packages and not self.requirements_file:
            self.fail("name packages, a requirements file (-r FILE), or both; see --help")
        catalog = self._catalog()
        env = self.inspect_path(catalog, path)
        file = absolute_requirements_file(self, catalog, self.requirements_file)
        what = ", ".join([*packages, *([f"-r {file}"] if file else [])])
        via = f" from the index {self.index}" if self.index else ""
        print(f"Adding {what} to {env.path}{via}…", file=sys.stderr)
        env = self.run(
            catalog.add_packages(
                env,
                packages,
                requirements_file=file,
                index=self.index or None,
                on_line=_progress,
            )
        )
        if env.gets_kernel:
            catalog.register(env)
        print(f"Added {what} to {env.kind} {env.path}: {env.status}")


class UninstallCommand(UvKernelCommand):
    name = "jupyter-uvkernel-uninstall"
    description = """Remove packages from a uv project (`uv remove`, from whichever group
    lists them; undone if it fails) or a venv (`uv pip uninstall`; refused while other
    installed packages need them, unless --force)."""
    examples = """
    jupyter uvkernel uninstall /glade/work/$USER/analysis netcdf4
    jupyter uvkernel uninstall ./venvs/py312 requests --force
    """
    max_positionals = None
    takes_packages = True
    force = Bool(False, help="venvs: uninstall even when other packages need it.").tag(config=True)
    flags = {
        **common_flags,
        "force": ({"UninstallCommand": {"force": True}}, "Uninstall even when needed (venvs)."),
    }

    def execute(self) -> None:
        if len(self.extra_args) < 2:
            self.fail("expected PATH PKG [PKG …]: see --help")
        path, *packages = self.extra_args
        catalog = self._catalog()
        env = self.inspect_path(catalog, path)
        print(f"Removing {', '.join(packages)} from {env.path}…", file=sys.stderr)
        env = self.run(catalog.remove_packages(env, packages, force=self.force, on_line=_progress))
        print(f"Removed {', '.join(packages)} from {env.kind} {env.path}: {env.status}")
