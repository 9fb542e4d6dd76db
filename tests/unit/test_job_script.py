"""The batch job script, proven by running it.

No live PBS can run here (OpenPBS is on neither Debian's registry nor PyPI), so the PBS
script is run with bash, as PBS would run it on the compute node: its ``#PBS`` lines are
comments to bash, and ``PBS_JOBID`` is set the way PBS sets it. The body is real: real uv,
a real project, papermill from uv's cache and our kernel, started and asked what it is.
The same script on real Slurm is in tests/server/test_api_jobs.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_uv_kernels.catalog import EnvironmentCatalog
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.errors import Conflict, InvalidPath, InvalidRequest, OutsideRoots
from jupyter_uv_kernels.job_script import EXIT_LINE, unedited
from jupyter_uv_kernels.jobs import JobManager
from tests.conftest import make_project, make_venv

PROBE = """
import json, os, sys
print(json.dumps({"prefix": sys.prefix, "alpha": alpha, "label": label,
                  "pythonpath": os.environ.get("PYTHONPATH")}))
"""
#: Text a user might type that a careless script would run or turn into a directive.
HOSTILE_TEXT = "it's $(touch PWNED) `touch PWNED2`; touch PWNED3 #PBS -l select=99"


def notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 0.1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(PROBE)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def manager(root: Path, **traits: object) -> JobManager:
    config = UvKernels(
        roots=[str(root)],
        scheduler="pbs",
        job_prologue="",
        job_defaults={"select": "1:ncpus=1", "walltime": "00:10:00"},
        **traits,
    )
    catalog = EnvironmentCatalog(config)
    catalog.refresh()  # the kernels, as the server or `jupyter uvkernel refresh` write them
    return JobManager(catalog, base_dir=str(root))


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real uv project with ipykernel, as `uv init` + `uv add ipykernel` make it."""
    root = Path(os.path.realpath(tmp_path_factory.mktemp("jobroot")))
    return make_project(root / "analysis", "ipykernel")


def test_given_a_pbs_script_when_bash_runs_it_as_pbs_would_then_the_notebook_ran_in_the_project(
    analysis: Path,
) -> None:
    # Given a notebook inside the project, whose kernel is not a uv kernel (python3)
    nb = notebook(analysis / "notebooks" / "fig3.ipynb")
    jobs = manager(analysis.parent)
    # When its job is planned with a number and a hostile string as parameters
    prepared = jobs.prepare(
        {
            "path": str(nb),
            "account": "UABC0001",
            "parameters": {"alpha": 0.5, "label": HOSTILE_TEXT},
        }
    )
    # Then the project's uv-project kernel was chosen (the job works in any clone)
    assert prepared.plan.kernel == "uv-project"
    assert prepared.plan.project == str(analysis)
    script = Path(prepared.script_path)
    assert script == nb.with_suffix(".pbs")
    script.write_text(prepared.script)
    # ... and the directives are exactly the ones asked for: no value became a line of its own
    directives = [line for line in prepared.script.splitlines() if line.startswith("#PBS")]
    assert directives == [
        "#PBS -N fig3",
        "#PBS -A UABC0001",
        "#PBS -l select=1:ncpus=1",
        "#PBS -l walltime=00:10:00",
        "#PBS -j oe",
        f"#PBS -o {nb.parent}/",
    ]
    # When bash runs it as PBS would (a job id set, conda and PYTHONPATH leaking in)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.update(PBS_JOBID="1234.desched1", CONDA_PREFIX="/opt/conda", PYTHONPATH="/leak")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])  # uv on PATH
    done = subprocess.run(
        ["bash", str(script)], cwd="/", env=env, capture_output=True, text=True, timeout=600
    )
    log = (nb.parent / "fig3-1234.log").read_text()
    # Then it succeeded, writing everything to the log named after the job
    assert done.returncode == 0, log[-3000:]
    assert log.rstrip().endswith(f"{EXIT_LINE}0")
    # ... the executed notebook is beside the input, with the job id in its name
    out = nbformat.read(nb.parent / "fig3-1234.ipynb", as_version=4)
    report = json.loads(out.cells[-1].outputs[0]["text"])
    # ... it ran in the project's own env, with the parameters, the hostile one verbatim
    assert Path(report["prefix"]).resolve() == (analysis / ".venv").resolve()
    assert report["alpha"] == 0.5
    assert report["label"] == HOSTILE_TEXT
    assert report["pythonpath"] is None
    # ... and nothing the user typed was run
    assert not list(Path("/").glob("PWNED*")) and not list(nb.parent.glob("PWNED*"))
    # ... and papermill was not added to the project
    assert "papermill" not in (analysis / "pyproject.toml").read_text()


def test_given_a_script_in_a_venv_when_bash_runs_its_job_then_it_ran_in_the_venv_with_its_args(
    tmp_path: Path,
) -> None:
    root = Path(os.path.realpath(tmp_path))
    venv = make_venv(root / "scratch-venv")
    script = root / "code" / "analyze.py"
    script.parent.mkdir()
    script.write_text("import json, sys\nprint(json.dumps([sys.prefix, sys.argv[1:]]))\n")
    jobs = manager(root)
    env = jobs.catalog.inspect(str(venv))
    prepared = jobs.prepare({"path": "code/analyze.py", "args": ["--in", HOSTILE_TEXT]}, env)
    Path(prepared.script_path).write_text(prepared.script)
    done = subprocess.run(
        ["bash", prepared.script_path],
        env={**os.environ, "PBS_JOBID": "77.server"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (script.parent / "analyze-77.log").read_text()
    assert done.returncode == 0, log
    prefix, args = json.loads(log.splitlines()[1])
    assert Path(prefix).resolve() == venv.resolve()
    assert args == ["--in", HOSTILE_TEXT]
    assert not list(script.parent.glob("PWNED*"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("account", "UABC0001\n#PBS -l select=64:ncpus=128"),
        ("account", "abc; rm -rf ~"),
        ("account", "$(id)"),
        ("queue", "casper\n#PBS -W depend=afterok:1"),
        ("queue", "main`id`"),
        ("select", "1:ncpus=4\n#PBS -q premium"),
        ("select", "1:ncpus=4:mem=16GB;touch x"),
        ("select", "0:ncpus=4"),
        ("select", "1:ncpus=four"),
        ("walltime", "01:00:00\n#PBS -A other"),
        ("walltime", "1 hour"),
        ("walltime", "00:00:00"),
        ("name", "fig3\n#PBS -A other"),
        ("name", "-fig3"),
        ("parameters", {"alpha\n#PBS": 1}),
        ("parameters", {"alpha": "two\nlines"}),
        ("parameters", {"import os": 1}),
        ("args", ["ok", "new\nline"]),
        ("kernel", "uv-x\n#PBS"),
    ],
)
def test_given_a_hostile_value_when_a_job_is_planned_then_it_is_refused_naming_the_field(
    analysis: Path, field: str, value: object
) -> None:
    nb = notebook(analysis / "hostile" / "nb.ipynb")
    request = {"path": str(nb), field: value}
    if field == "args":
        request = {"path": str(nb.with_suffix(".py")), field: value}
        nb.with_suffix(".py").write_text("print(1)\n")
    with pytest.raises(InvalidRequest) as info:
        manager(analysis.parent).prepare(request)
    named = {"parameters": "parameter", "args": "argument"}.get(field, field)
    assert named in info.value.message
    assert not list(nb.parent.glob("*.pbs"))


def test_given_bad_files_when_a_job_is_planned_then_each_is_refused_with_the_fix(
    analysis: Path, tmp_path: Path
) -> None:
    jobs = manager(analysis.parent)
    (analysis / "notes.txt").write_text("x")
    with pytest.raises(InvalidPath, match=r"neither a notebook \(\.ipynb\) nor a Python script"):
        jobs.prepare({"path": str(analysis / "notes.txt")})
    with pytest.raises(InvalidPath, match="does not exist"):
        jobs.prepare({"path": str(analysis / "missing.ipynb")})
    with pytest.raises(OutsideRoots):
        jobs.prepare({"path": str(notebook(tmp_path / "elsewhere.ipynb"))})
    loose = notebook(analysis.parent / "loose" / "nb.ipynb")  # in no project, python3 kernel
    with pytest.raises(InvalidRequest, match="choose the environment"):
        jobs.prepare({"path": str(loose)})


def test_given_a_project_table_when_a_job_is_planned_then_request_beats_project_beats_site(
    tmp_path: Path,
) -> None:
    root = Path(os.path.realpath(tmp_path))
    project = root / "proj"
    project.mkdir()
    (project / "uv.lock").write_text("version = 1\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n\n'
        '[tool.jupyter-uv-kernels.job]\naccount = "PROJ0001"\nqueue = "casper"\n'
    )
    nb = notebook(project / "nb.ipynb")
    jobs = manager(root)
    settings = jobs.prepare({"path": str(nb), "queue": "main"}).preview()["settings"]
    assert (settings["account"], settings["queue"], settings["walltime"]) == (
        "PROJ0001",
        "main",
        "00:10:00",
    )
    assert settings["sources"] == {
        "account": "project",
        "queue": "request",
        "select": "site",
        "walltime": "site",
    }
    # A bad value in the table is an error that names the file and the table
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[tool.jupyter-uv-kernels.job]\naccount = "x\\n#PBS -q y"\n'
    )
    with pytest.raises(InvalidRequest, match=r"tool\.jupyter-uv-kernels\.job.*pyproject\.toml"):
        jobs.prepare({"path": str(nb)})


def test_given_an_edited_script_when_a_job_is_planned_again_then_the_edit_is_kept(
    analysis: Path,
) -> None:
    nb = notebook(analysis / "again" / "fig.ipynb")
    jobs = manager(analysis.parent)
    first = jobs.prepare({"path": str(nb)})
    Path(first.script_path).write_text(first.script)
    assert unedited(first.script)
    # An unedited script of ours is simply replaced
    assert jobs.prepare({"path": str(nb), "walltime": "02:00:00"}).script_path == first.script_path
    # One the user edited is kept: the next script gets a name of its own
    Path(first.script_path).write_text(first.script.replace("00:10:00", "06:00:00"))
    second = jobs.prepare({"path": str(nb)})
    assert second.script_path == str(nb.parent / "fig-2.pbs")
    assert "06:00:00" in Path(first.script_path).read_text()


def test_given_an_env_without_a_kernel_when_a_notebook_job_is_planned_then_409_says_register(
    tmp_path: Path,
) -> None:
    root = Path(os.path.realpath(tmp_path))
    venv = make_venv(root / "bare")  # no ipykernel: no kernel
    nb = notebook(root / "nb.ipynb")
    jobs = manager(root)
    with pytest.raises(Conflict, match="register it first"):
        jobs.prepare({"path": str(nb)}, jobs.catalog.inspect(str(venv)))
