"""``jupyter uvkernel`` subcommands about an environment's packages: upgrade, outdated and
tree. They call the same domain functions as the REST API (:mod:`upgrades`,
:mod:`dependency_tree`)."""

from __future__ import annotations

import json
import sys

from traitlets import Bool, Unicode

from .cli_base import UvKernelCommand, _progress, common_aliases, common_flags
from .dependency_tree import dependency_tree, render_tree
from .upgrades import outdated_report, render_outdated, upgrade_environment
from .user_input import parse_package_names

_JSON_FLAG = "Print the answer as JSON (the REST API's shape)."


class UpgradeCommand(UvKernelCommand):
    name = "jupyter-uvkernel-upgrade"
    description = """Upgrade packages of a project or venv; no PKG upgrades everything.
    A project: `uv lock --upgrade-package PKG` (within pyproject.toml's constraints), then
    `uv sync --frozen`; if that fails, pyproject.toml and uv.lock are restored and the env
    re-synced. A venv: `uv pip install --upgrade-package PKG PKG`."""
    examples = """
    jupyter uvkernel upgrade /glade/work/$USER/analysis numpy
    jupyter uvkernel upgrade /glade/work/$USER/analysis
    jupyter uvkernel upgrade ./venvs/py312 xarray dask
    """
    max_positionals = None

    def execute(self) -> None:
        if not self.extra_args:
            self.fail("expected PATH [PKG …]: see --help")
        path, *packages = self.extra_args
        names = parse_package_names(packages)  # a bad one is an error before uv runs
        catalog = self._catalog()
        env = self.inspect_path(catalog, path)
        what = ", ".join(names) if names else "every package"
        print(f"Upgrading {what} in {env.path}…", file=sys.stderr)
        result = self.run(upgrade_environment(catalog, env, names, on_line=_progress))
        print(result.message)


class OutdatedCommand(UvKernelCommand):
    name = "jupyter-uvkernel-outdated"
    description = """List the packages of a project or venv that have a newer release
    (`uv pip list --outdated`) and, for a project, the version its constraints allow
    (`uv lock --upgrade --dry-run`): what `jupyter uvkernel upgrade` would install."""
    examples = """
    jupyter uvkernel outdated /glade/work/$USER/analysis
    jupyter uvkernel outdated ./venvs/py312 --json
    """
    json_output = Bool(False, help=_JSON_FLAG).tag(config=True)
    flags = {**common_flags, "json": ({"OutdatedCommand": {"json_output": True}}, _JSON_FLAG)}

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        reply = self.run(outdated_report(catalog.runner, env, max_age=0, refresh=True))
        if self.json_output:
            print(json.dumps(reply, indent=1))
            return
        packages = reply["packages"]
        if not packages:
            print(f"Everything in {env.path} is at its newest release.")
            return
        print("\n".join(render_outdated(packages)))
        if env.kind == "project":
            print(
                "\nALLOWED is what pyproject.toml's constraints let an upgrade install; "
                f"`jupyter uvkernel upgrade {env.path} PKG` installs it."
            )


class TreeCommand(UvKernelCommand):
    name = "jupyter-uvkernel-tree"
    description = """Show what depends on what: `uv tree --frozen` for a project (by
    dependency group), `uv pip tree` for a venv. With --invert PKG: why PKG is installed
    (what requires it, up to the direct dependencies)."""
    examples = """
    jupyter uvkernel tree /glade/work/$USER/analysis
    jupyter uvkernel tree /glade/work/$USER/analysis --invert urllib3
    jupyter uvkernel tree ./venvs/py312 --json
    """
    json_output = Bool(False, help=_JSON_FLAG).tag(config=True)
    invert = Unicode("", help="Show what requires this package instead.").tag(config=True)
    aliases = {**common_aliases, "invert": "TreeCommand.invert"}
    flags = {**common_flags, "json": ({"TreeCommand": {"json_output": True}}, _JSON_FLAG)}

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        package = self.invert or None
        reply = self.run(
            dependency_tree(catalog.runner, env, invert=package is not None, package=package)
        )
        if self.json_output:
            print(json.dumps(reply, indent=1))
            return
        print("\n".join(render_tree(reply)))
