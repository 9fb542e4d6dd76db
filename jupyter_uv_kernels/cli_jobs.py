"""``jupyter uvkernel submit`` / ``jobs`` / ``cancel``: a notebook or script as a batch job,
from a terminal or a job script. The same domain calls as ``POST jobs``, ``GET jobs`` and
``DELETE jobs/{id}`` (:mod:`jobs`), sharing the server's job list."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from traitlets import Bool, Unicode

from .cli_base import UvKernelCommand, common_aliases, common_flags
from .errors import InvalidRequest
from .job_request import Parameter, cli_parameter
from .jobs import JobManager

#: Short options of submit: "-p year -A X" lacks its VALUE rather than meaning year="-A".
_SHORT = ("-A", "-q", "-l", "-p")


class _JobCommand(UvKernelCommand):
    def manager(self) -> JobManager:
        return JobManager(self._catalog(), base_dir=os.getcwd())


class SubmitCommand(_JobCommand):
    name = "jupyter-uvkernel-submit"
    description = """Run a notebook (papermill, on a uv kernel) or a script (uv run) as a
    batch job: writes the PBS or Slurm script beside it, then qsub/sbatch."""
    examples = """
    jupyter uvkernel submit fig3.ipynb -A UABC0001 -q casper -l select=1:ncpus=4:mem=16GB
    jupyter uvkernel submit fig3.ipynb --walltime 02:00:00 -p year 2024 -p region "North Atlantic"
    jupyter uvkernel submit analyze.py --env ../analysis -- --input data.nc
    jupyter uvkernel submit fig3.ipynb --dry-run
    """
    env = Unicode("", help="The environment to run in (a project or venv dir).").tag(config=True)
    kernel = Unicode("", help="A uv kernel to run the notebook on (uv-project, uv-…).").tag(
        config=True
    )
    account = Unicode("", help="Project code to charge (#PBS -A).").tag(config=True)
    queue = Unicode("", help="Queue (#PBS -q, Slurm's partition).").tag(config=True)
    resources = Unicode("", help="select=N:ncpus=C:mem=M[:ngpus=G] (#PBS -l select=).").tag(
        config=True
    )
    walltime = Unicode("", help="HH:MM:SS.").tag(config=True)
    job_name = Unicode("", help="Job name (default: from the file name).").tag(config=True)
    dry_run = Bool(False, help="Print the script; save and submit nothing.").tag(config=True)
    json_output = Bool(False, help="Print the job (or the dry run) as JSON.").tag(config=True)
    aliases = {
        **common_aliases,
        "env": "SubmitCommand.env",
        "kernel": "SubmitCommand.kernel",
        "A": "SubmitCommand.account",
        "account": "SubmitCommand.account",
        "q": "SubmitCommand.queue",
        "queue": "SubmitCommand.queue",
        "l": "SubmitCommand.resources",
        "walltime": "SubmitCommand.walltime",
        "name": "SubmitCommand.job_name",
    }
    flags = {
        **common_flags,
        "dry-run": ({"SubmitCommand": {"dry_run": True}}, "Print the script only."),
        "json": ({"SubmitCommand": {"json_output": True}}, "Print JSON."),
    }
    max_positionals = None
    parameters: dict[str, Parameter]

    def parse_command_line(self, argv: list[str] | None = None) -> None:
        """``-p NAME VALUE`` takes two values, which traitlets cannot: taken out first."""
        argv = sys.argv[1:] if argv is None else list(argv)
        self.parameters = {}
        rest: list[str] = []
        tokens = iter(argv)
        for token in tokens:
            if token == "--":
                rest += [token, *tokens]
                break
            if token in ("-p", "--parameter"):
                name, value = next(tokens, None), next(tokens, None)
                option_like = [v for v in (name, value) if v and v.startswith("--")]
                if name is None or value is None or option_like or value in _SHORT:
                    self.fail(f"{token} takes a NAME and a VALUE: -p year 2024")
                    return
                self.parameters[name] = cli_parameter(value)
            else:
                rest.append(token)
        super().parse_command_line(rest)

    def request(self, path: str, args: list[str]) -> dict[str, Any]:
        resources = self.resources
        if resources and not resources.startswith("select="):
            raise InvalidRequest(f"-l takes select=…, e.g. -l select=1:ncpus=4, not {resources!r}.")
        return {
            "path": path,
            "kernel": self.kernel or None,
            "account": self.account or None,
            "queue": self.queue or None,
            "select": resources.removeprefix("select=") or None,
            "walltime": self.walltime or None,
            "name": self.job_name or None,
            "parameters": self.parameters,
            "args": args,
        }

    def execute(self) -> None:
        if not self.extra_args:
            self.fail("expected PATH (a .ipynb or .py file): see --help")
        path, *args = self.extra_args
        manager = self.manager()
        env = None
        if self.env:
            if self.kernel:
                self.fail("give --env or --kernel, not both")
            env = self.inspect_path(manager.catalog, os.path.abspath(self.env))
        prepared = manager.prepare(self.request(path, args), env)
        if self.dry_run:
            if self.json_output:
                print(json.dumps(prepared.preview(), indent=2))
                return
            if prepared.note:
                print(f"# {prepared.note}", file=sys.stderr)
            print(prepared.script, end="")
            print(f"# would be saved as {prepared.script_path}", file=sys.stderr)
            return
        job = self.run(manager.submit(prepared))
        if self.json_output:
            print(json.dumps(job, indent=2))
            return
        print(f"Submitted {job['kind']} {job['path']} as {job['scheduler']} job {job['id']}.")
        print(f"  script: {job['script_path']}")
        print(f"  log:    {job['log_path']}")
        if job["output_path"]:
            print(f"  result: {job['output_path']}")
        print("Follow it with: jupyter uvkernel jobs")


class JobsCommand(_JobCommand):
    name = "jupyter-uvkernel-jobs"
    description = """The batch jobs submitted from here (this CLI or the server), newest
    first, with their state from the scheduler."""
    max_positionals = 0
    requires_roots = False
    json_output = Bool(False, help="Print the list as JSON.").tag(config=True)
    flags = {**common_flags, "json": ({"JobsCommand": {"json_output": True}}, "Print JSON.")}

    def execute(self) -> None:
        listing = self.run(self.manager().listing())
        if self.json_output:
            print(json.dumps(listing, indent=2))
            return
        if listing["problem"]:
            print(f"warning: {listing['problem']}", file=sys.stderr)
        if not listing["jobs"]:
            print("No batch jobs were submitted from here.")
            return
        for job in listing["jobs"]:
            print(f"{job['id']:<20} {job['state']:<10} {_waited(job):>8}  {job['path']}")
            if job["state"] in ("finished", "failed") and job["output_path"]:
                print(f"{'':<20} result: {job['output_path']}")
            if job["state"] == "failed":
                print(f"{'':<20} log:    {job['log_path']}")


class CancelCommand(_JobCommand):
    name = "jupyter-uvkernel-cancel"
    description = "Cancel a batch job submitted from here (qdel / scancel)."
    requires_roots = False

    def execute(self) -> None:
        job_id = self.one_path("JOB_ID")
        job = self.run(self.manager().cancel(job_id))
        if job["state"] == "cancelled":
            print(f"Cancelled job {job['id']}.")
        elif job["cancelled"]:
            print(f"Asked the scheduler to cancel job {job['id']}; it is still {job['state']}.")
        else:
            print(f"Job {job['id']} had already ended: {job['state']}.")


def _waited(job: dict[str, Any]) -> str:
    """Time in queue, shortly: 45s, 12m, 3h05m."""
    seconds = job.get("queued_seconds")
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
