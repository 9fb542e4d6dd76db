"""``jupyter uvkernel`` subcommands that only look: doctor and check."""

from __future__ import annotations

import json

from traitlets import Bool

from .cli_base import UvKernelCommand, common_flags
from .doctor import run_doctor
from .errors import UvKernelsError
from .provenance import check_notebook


class DoctorCommand(UvKernelCommand):
    name = "jupyter-uvkernel-doctor"
    description = "Check uv, its cache, conda leakage, the roots and the kernelspec directory."
    examples = "jupyter uvkernel doctor --json"
    max_positionals = 0
    requires_roots = False
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
