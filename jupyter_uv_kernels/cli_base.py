"""What every ``jupyter uvkernel`` subcommand shares: options, argument checks, errors.

Every subcommand takes ``--root DIR`` (repeatable) and ``--UvKernels.<trait>=…``. User
errors print one line on stderr and exit 2; a failed uv command exits 1 with uv's own error
line. uv's output streams to stderr as progress.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from jupyter_core.application import JupyterApp, base_aliases, base_flags

from ._version import __version__
from .catalog import EnvironmentCatalog
from .config import UvKernels
from .environments import Environment
from .errors import CommandFailed, NotAnEnvironment, UvKernelsError

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
    #: How many positional arguments the command takes (None: any number).
    max_positionals: int | None = 1
    #: Positionals may look like options: create's packages, where uv's requirement check
    #: gives the clearer error for "--index-url=…".
    takes_packages = False
    #: A missing root is a usage error (doctor reports it as a finding instead).
    requires_roots = True

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
                if token.startswith("-") and token != "-":
                    self._check_option(name, known | with_value)
                positionals.append(token)
        super().parse_command_line([*options, "--", *positionals] if positionals else options)

    def _check_option(self, name: str, known: set[str]) -> None:
        """A mistyped option (``--jsn``, ``--roots``) is an error, never silently ignored."""
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        if self.takes_packages and not close:
            return  # a package-shaped mistake: parse_requirements names it
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.fail(f"unknown option {name}{hint}; see --help")

    def _catalog(self) -> EnvironmentCatalog:
        catalog = EnvironmentCatalog(UvKernels(parent=self), fallback_root=os.getcwd())
        for root in catalog.roots if self.requires_roots else ():
            if not root.is_dir():
                self.fail(f"the root {root} does not exist or is not a directory; fix --root")
        return catalog

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
        if self.max_positionals is not None and len(self.extra_args) > self.max_positionals:
            extra = self.extra_args[self.max_positionals]
            self.fail(f"unexpected argument {extra!r}; see --help")
        try:
            self.execute()
        except CommandFailed as e:  # uv's or the scheduler's own error line
            self.fail(e.message, 1)
        except UvKernelsError as e:
            self.fail(e.message, 2)
        except KeyboardInterrupt:
            self.fail("interrupted", 130)

    def execute(self) -> None:
        raise NotImplementedError
