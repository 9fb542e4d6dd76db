"""``jupyter uvkernel`` subcommands about an environment as a whole: size, delete, copy and
export. They call the same domain functions as the REST routes (``service_lifecycle``)."""

from __future__ import annotations

import json
import os
import sys

from traitlets import Bool, Enum, Unicode

from .catalog import EnvironmentCatalog
from .cli_base import UvKernelCommand, _progress, common_aliases, common_flags
from .copying import copy_environment
from .deletion import delete_environment, plan_delete
from .disk_usage import human_bytes, measure
from .errors import OutsideRoots
from .export import FORMATS, export_environment, write_atomically


class SizeCommand(UvKernelCommand):
    name = "jupyter-uvkernel-size"
    description = """Disk use of an environment (a project: its .venv), as `du -s` counts it.
    Stops after UvKernels.size_time_budget seconds and then says "at least"."""
    examples = """
    jupyter uvkernel size /glade/work/$USER/analysis
    jupyter uvkernel size ./venvs/py312 --json --UvKernels.size_time_budget=0
    """
    json_output = Bool(False, help="Print the answer as JSON (the REST SizeReply).").tag(
        config=True
    )
    flags = {
        **common_flags,
        "json": ({"SizeCommand": {"json_output": True}}, "Print the answer as JSON."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        venv = env.venv or os.path.join(env.path, ".venv")
        usage = measure(venv, catalog.config.size_time_budget)
        if self.json_output:
            print(json.dumps(usage.to_json(), indent=1))
            return
        bound = "" if usage.complete else "at least "
        print(
            f"{bound}{human_bytes(usage.bytes)} in {usage.files:,} files: {usage.path} "
            f"({usage.seconds:.2f} s)"
        )
        if not usage.complete:
            print(
                "The walk stopped at the time budget (or at an unreadable folder); raise "
                "--UvKernels.size_time_budget (0: none) for the full size.",
                file=sys.stderr,
            )


class _ToTarget(UvKernelCommand):
    """A command whose path must lie inside the roots, as in the REST API."""

    def confined(self, catalog: EnvironmentCatalog, path: str) -> str:
        try:
            return catalog.confine(os.path.abspath(path))
        except OutsideRoots:
            roots = ", ".join(str(r) for r in catalog.roots)
            self.fail(
                f"{path} is outside the roots ({roots}); pass its root: "
                f"--root {os.path.dirname(os.path.abspath(path))}"
            )
            raise  # not reached: fail() exits


class DeleteCommand(_ToTarget):
    name = "jupyter-uvkernel-delete"
    description = """Delete an environment to free its space: a venv's directory, or a
    project's .venv only (pyproject.toml and uv.lock stay; `sync` rebuilds it). Removes its
    kernel. Asks first unless --yes."""
    examples = """
    jupyter uvkernel delete /glade/work/$USER/old-venv
    jupyter uvkernel delete /glade/work/$USER/analysis --yes
    """
    yes = Bool(False, help="Delete without asking.").tag(config=True)
    flags = {
        **common_flags,
        "yes": ({"DeleteCommand": {"yes": True}}, "Delete without asking."),
        "y": ({"DeleteCommand": {"yes": True}}, "Delete without asking."),
    }

    def execute(self) -> None:
        catalog = self._catalog()
        path = self.confined(catalog, self.one_path())
        plan = plan_delete(catalog, path)
        if not self.yes:
            if not sys.stdin.isatty():
                self.fail(f"this would delete {plan.describe()}; pass --yes to confirm")
            size = measure(plan.target, catalog.config.size_time_budget)
            bound = "" if size.complete else "at least "
            answer = input(f"Delete {plan.describe()}, {bound}{human_bytes(size.bytes)}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing deleted.")
                return
        done, kernels = delete_environment(catalog, path)
        for name in kernels:
            print(f"Removed kernel {name}")
        print(f"Deleted {done.describe()}.")


class CopyCommand(_ToTarget):
    name = "jupyter-uvkernel-copy"
    description = """Copy an environment into a new folder and register its kernel: a
    project's pyproject.toml and uv.lock (then `uv sync --frozen`), or a venv's package
    list (`uv pip freeze`, then `uv pip install -r` into a venv of the same Python). The
    source may be read-only (a group's env); the target must be inside the roots."""
    examples = """
    jupyter uvkernel copy /glade/campaign/cgd/shared/env /glade/work/$USER/my-env
    """
    max_positionals = 2

    def execute(self) -> None:
        if len(self.extra_args) != 2:
            self.fail("expected SOURCE and TARGET: see --help")
        source_path, target_path = self.extra_args
        catalog = self._catalog()
        source = self.inspect_path(catalog, source_path)
        target = self.confined(catalog, target_path)
        print(f"Copying {source.kind} {source.path} to {target}…", file=sys.stderr)
        env = self.run(copy_environment(catalog, source, target, on_line=_progress))
        print(f"Copied {source.path} to {env.path} (Python {env.python}); kernel {env.kernel}")


class ExportCommand(UvKernelCommand):
    name = "jupyter-uvkernel-export"
    description = """Export an environment for a colleague: a project's uv.lock as
    requirements.txt or pylock.toml (`uv export --frozen`), a venv's `uv pip freeze`.
    Prints it, or writes it with -o FILE."""
    examples = """
    jupyter uvkernel export /glade/work/$USER/analysis --format pylock.toml -o pylock.toml
    jupyter uvkernel export ./venvs/py312 > requirements.txt
    """
    export_format = Enum(
        list(FORMATS), "requirements.txt", help="requirements.txt or pylock.toml"
    ).tag(config=True)
    output = Unicode("", help="Write to this file instead of printing.").tag(config=True)
    aliases = {
        **common_aliases,
        "format": "ExportCommand.export_format",
        "o": "ExportCommand.output",
    }

    def execute(self) -> None:
        catalog = self._catalog()
        env = self.inspect_path(catalog, self.one_path())
        export = self.run(export_environment(catalog.runner, env, self.export_format))
        if not self.output:
            sys.stdout.write(export.content)
            return
        write_atomically(os.path.abspath(self.output), export.content.encode("utf-8"))
        print(f"Wrote {export.format} of {env.path} to {self.output}", file=sys.stderr)
