"""Synthetic trees shaped like ``/glade/work/$USER``, built once and reused from the cache.

Everything lives under ``benchmarks/.cache/`` (gitignored):

- ``uv-cache/``: the shared UV_CACHE_DIR. It sits on the same filesystem as the trees, so
  uv installs by hardlink and an environment costs milliseconds once a package is cached.
- ``trees/work-<dirs>-<envs>-v<N>/jdoe/``: the main tree. Tens of thousands of plain data
  directories with small files, ``.git`` and ``node_modules`` noise, and real uv projects,
  uv venvs and plain venvs (about half with ipykernel), at the depths researchers put them.
- ``trees/many-v<N>/gNN/``: groups of 100 real uv venvs with ipykernel installed without its
  dependencies (``uv pip install --no-deps``): enough for discovery to list them as ready
  and for the reconciler to write a kernel each, at a fraction of the cost of full installs.
- ``kernel-env-v<N>/kproj/``: one real uv project with ipykernel and bytecode compiled, the
  environment kernels are started from.
- ``peers-venv/``: nb_venv_kernels and the profilers, never the project's own dependencies.

A tree is complete when its ``manifest.json`` exists; a half-built tree is removed and
built again.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: Everything built or installed (trees, uv cache, peers venv). UVK_BENCH_CACHE moves it, e.g.
#: to time a cold start; keep it on one filesystem so that uv can hardlink from its cache.
CACHE = Path(os.environ.get("UVK_BENCH_CACHE") or HERE / ".cache").resolve()
UV_CACHE = CACHE / "uv-cache"
TREE_FORMAT = 1

#: The interpreter every benchmark environment is made from: the base Python behind the
#: dev venv, as a researcher's ``uv venv --python 3.11`` would pick it.
BASE_PYTHON = os.path.realpath(sys.executable)


def find_uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if not found:
        raise SystemExit("uv is not installed: run `uv sync` in the repository first.")
    return found


UV = find_uv()


def uv_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every uv call of the benchmark gets: shared cache, no conda leakage."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CONDA_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        UV_CACHE_DIR=str(UV_CACHE),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
    )
    if extra:
        env.update(extra)
    return env


def run_uv(*args: str, cwd: str | None = None) -> float:
    """Run the real uv; returns the wall time. Raises with uv's stderr on failure."""
    started = time.perf_counter()
    proc = subprocess.run(
        [UV, *args], cwd=cwd, env=uv_environment(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - started


# -- the main tree ------------------------------------------------------------------------


@dataclass
class EnvSpec:
    relpath: str
    kind: str  # "project" | "uv-venv" | "plain-venv"
    ipykernel: bool


@dataclass
class Tree:
    root: str
    directories: int
    files: int
    envs: list[EnvSpec]
    built_in: float

    @property
    def env_count(self) -> int:
        return len(self.envs)


def _layout(
    dirs: int, envs: int, seed: int = 5
) -> tuple[list[str], list[tuple[str, int]], list[EnvSpec]]:
    """Directories (relative, parents first), files (relative dir, count) and environments.

    Shares of the directory budget: data 60 %, model runs 15 %, code repositories 10 %,
    their ``.git`` and ``node_modules`` noise 12 %, analysis notebooks 3 %. Some data
    directories reach below the default depth limit (6), like real chunked archives.
    """
    rng = random.Random(seed)
    out: list[str] = []
    files: list[tuple[str, int]] = []

    def d(path: str, nfiles: int = 0) -> None:
        out.append(path)
        if nfiles:
            files.append((path, nfiles))

    budget = {
        "data": int(dirs * 0.60),
        "runs": int(dirs * 0.15),
        "code": int(dirs * 0.10),
        "noise": int(dirs * 0.12),
    }
    budget["analysis"] = dirs - sum(budget.values())

    # data/<dataset>/<year>/<month>/<variable>[/chunks/<a>/<b>]: a deep, wide archive.
    start = len(out)
    d("data")
    i = 0
    while len(out) - start < budget["data"]:
        ds = f"data/{rng.choice(['cesm', 'wrf', 'era5', 'mom6', 'cam', 'clm'])}-{i:04d}"
        d(ds, 1)
        for year in range(2015, 2015 + rng.randint(2, 5)):
            yd = f"{ds}/{year}"
            d(yd)
            for month in range(1, 13):
                md = f"{yd}/{month:02d}"
                d(md, 1)
                for var in rng.sample(["T", "U", "V", "Q", "PS", "PRECT", "TS"], rng.randint(1, 3)):
                    vd = f"{md}/{var}"
                    d(vd, 2)
                    if rng.random() < 0.05:
                        d(f"{vd}/chunks")
                        for a in range(2):
                            d(f"{vd}/chunks/{a}")
                            d(f"{vd}/chunks/{a}/0", 1)
                if len(out) - start >= budget["data"]:
                    break
            if len(out) - start >= budget["data"]:
                break
        i += 1

    # runs/<case>/<member>/{run,logs,restart}/...: model output.
    start = len(out)
    d("runs")
    i = 0
    while len(out) - start < budget["runs"]:
        case = f"runs/b.e21.case{i:03d}"
        d(case, 2)
        for member in range(rng.randint(3, 10)):
            md = f"{case}/{member:03d}"
            d(md)
            for sub in ("run", "logs", "restart", "timing"):
                d(f"{md}/{sub}", rng.randint(1, 3))
            for k in range(rng.randint(2, 8)):
                d(f"{md}/run/hist{k:02d}", 1)
        i += 1

    # code/<group>/<repo>/...: repositories with .git and (some) node_modules.
    start = len(out)
    noise_start = len(out)
    noise = 0
    d("code")
    repos: list[str] = []
    i = 0
    while len(out) - start - noise < budget["code"]:
        group = f"code/{rng.choice(['ncar', 'personal', 'forks', 'class'])}"
        if group not in out:
            d(group)
        repo = f"{group}/repo-{i:03d}"
        repos.append(repo)
        d(repo, 3)
        for sub in ("src", "tests", "docs", "scripts", "notebooks"):
            d(f"{repo}/{sub}", 2)
        for k in range(rng.randint(2, 6)):
            d(f"{repo}/src/mod{k}", 3)
            d(f"{repo}/src/mod{k}/__pycache__", 2)
            noise += 1
        if noise < budget["noise"]:
            before = len(out)
            d(f"{repo}/.git", 3)
            for sub in ("refs", "refs/heads", "refs/tags", "hooks", "info", "logs"):
                d(f"{repo}/.git/{sub}", 1)
            d(f"{repo}/.git/objects")
            for k in rng.sample(range(256), rng.randint(20, 80)):
                d(f"{repo}/.git/objects/{k:02x}", 2)
            if rng.random() < 0.3:
                d(f"{repo}/node_modules")
                for k in range(rng.randint(50, 250)):
                    d(f"{repo}/node_modules/pkg-{k}", 2)
                    d(f"{repo}/node_modules/pkg-{k}/lib", 1)
            noise += len(out) - before
        i += 1
    del noise_start

    # analysis/<topic>/<sub>: notebooks with checkpoint noise.
    start = len(out)
    d("analysis")
    topics: list[str] = []
    i = 0
    while len(out) - start < budget["analysis"]:
        topic = f"analysis/topic-{i:03d}"
        topics.append(topic)
        d(topic, 3)
        d(f"{topic}/.ipynb_checkpoints", 2)
        for k in range(rng.randint(2, 6)):
            d(f"{topic}/fig{k}", 2)
        i += 1

    # Environments, at the depths researchers keep them.
    env_specs: list[EnvSpec] = []
    d("envs")
    d("projects")
    for n in range(envs):
        ipk = n % 2 == 0
        slot = n % 20
        if slot < 9:  # uv projects: a repo that is a project, or one under projects/
            kind = "project"
            rel = f"projects/proj-{n:03d}" if slot % 2 else f"{repos[n % len(repos)]}-uvproj{n:03d}"
        elif slot < 17:  # uv venvs: named ones under envs/, or a .venv in an analysis topic
            kind = "uv-venv"
            rel = f"envs/uv-{n:03d}" if slot % 2 else f"{topics[n % len(topics)]}/env{n:03d}/.venv"
        else:
            kind = "plain-venv"
            rel = f"envs/plain-{n:03d}"
        env_specs.append(EnvSpec(rel, kind, ipk))
    return out, files, env_specs


def _write_dirs(root: Path, dirs: list[str], files: list[tuple[str, int]]) -> int:
    for rel in dirs:
        (root / rel).mkdir(parents=True, exist_ok=True)
    payload = b"x" * 96
    nfiles = 0
    for rel, count in files:
        base = root / rel
        for k in range(count):
            name = ("README.md", "f.nc", "notes.txt", "run.log")[k % 4]
            (base / name).write_bytes(payload)
            nfiles += 1
    return nfiles


def _make_noise(root: Path) -> None:
    """Look-alikes that must not be listed: a conda env and a pyproject.toml without uv."""
    conda = root / "envs" / "conda-analysis"
    (conda / "conda-meta").mkdir(parents=True, exist_ok=True)
    (conda / "bin").mkdir(exist_ok=True)
    (conda / "conda-meta" / "history").write_text("# fake conda env\n")
    legacy = root / "projects" / "setuptools-only"
    legacy.mkdir(parents=True, exist_ok=True)
    (legacy / "pyproject.toml").write_text('[project]\nname = "legacy"\nversion = "0"\n')


def _slug(rel: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in rel.lower()).strip("-")[-40:].strip("-")


def build_env(path: Path, kind: str, ipykernel: bool, *, compile_bytecode: bool = False) -> None:
    """One real environment, made the way a researcher makes it, with the real uv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compile_flag = ["--compile-bytecode"] if compile_bytecode else []
    if kind == "project":
        run_uv(
            "init",
            "--no-workspace",
            "--vcs",
            "none",
            "--name",
            _slug(path.name) or "proj",
            "--python",
            BASE_PYTHON,
            str(path),
        )
        if ipykernel:
            run_uv("add", "--project", str(path), *compile_flag, "--", "ipykernel")
        else:
            run_uv("sync", "--project", str(path))
    elif kind == "uv-venv":
        run_uv("venv", "--python", BASE_PYTHON, str(path))
        if ipykernel:
            run_uv(
                "pip",
                "install",
                "--python",
                str(path / "bin" / "python"),
                *compile_flag,
                "--",
                "ipykernel",
            )
    else:
        subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
        if ipykernel:
            run_uv("pip", "install", "--python", str(path / "bin" / "python"), "--", "ipykernel")


def _parallel(jobs: Iterable[Callable[[], None]], workers: int = 3) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(job) for job in jobs]:
            fut.result()


def _stamped(directory: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    manifest = directory / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("key") == key else None


def _fresh(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def work_tree(dirs: int, envs: int, log: Callable[[str], None] = print) -> Tree:
    """The main tree: ``dirs`` directories and ``envs`` environments (built or reused)."""
    top = CACHE / "trees" / f"work-{dirs}-{envs}-v{TREE_FORMAT}"
    key = {"dirs": dirs, "envs": envs, "format": TREE_FORMAT, "python": BASE_PYTHON}
    stamp = _stamped(top, key)
    root = top / "jdoe"
    if stamp is not None:
        return Tree(
            str(root),
            stamp["directories"],
            stamp["files"],
            [EnvSpec(**e) for e in stamp["envs"]],
            stamp["built_in"],
        )
    log(f"building the tree {top.name} ({dirs:,} directories, {envs} environments)...")
    started = time.perf_counter()
    _fresh(top)
    rel_dirs, files, env_specs = _layout(dirs, envs)
    nfiles = _write_dirs(root, rel_dirs, files)
    _make_noise(root)
    _parallel(
        lambda e=e: build_env(root / e.relpath, e.kind, e.ipykernel)  # type: ignore[misc]
        for e in env_specs
    )
    built_in = time.perf_counter() - started
    (top / "manifest.json").write_text(
        json.dumps(
            {
                "key": key,
                "directories": len(rel_dirs),
                "files": nfiles,
                "envs": [asdict(e) for e in env_specs],
                "built_in": built_in,
            },
            indent=1,
        )
    )
    log(f"  built in {built_in:.1f} s")
    return Tree(str(root), len(rel_dirs), nfiles, env_specs, built_in)


# -- many small ready environments (kernelspec listing, RSS) --------------------------------


def many_envs(groups: int, log: Callable[[str], None] = print) -> list[str]:
    """``groups`` directories of 100 ready uv venvs each; returns the group directories."""
    top = CACHE / "trees" / f"many-v{TREE_FORMAT}"
    top.mkdir(parents=True, exist_ok=True)
    out = []
    for g in range(groups):
        group = top / f"g{g:02d}"
        key = {"group": g, "format": TREE_FORMAT, "python": BASE_PYTHON}
        if _stamped(group, key) is None:
            log(f"building 100 ready uv venvs in {top.name}/{group.name}...")
            started = time.perf_counter()
            _fresh(group)

            def one(path: Path) -> None:
                run_uv("venv", "--python", BASE_PYTHON, str(path))
                run_uv(
                    "pip",
                    "install",
                    "--no-deps",
                    "--python",
                    str(path / "bin" / "python"),
                    "--",
                    "ipykernel",
                )

            _parallel((lambda p=group / f"env-{g:02d}{k:02d}": one(p)) for k in range(100))
            (group / "manifest.json").write_text(
                json.dumps({"key": key, "built_in": time.perf_counter() - started})
            )
        out.append(str(group))
    return out


# -- the kernel environment ---------------------------------------------------------------


def kernel_project(log: Callable[[str], None] = print) -> str:
    """A uv project with ipykernel, bytecode compiled (what `jupyter uvkernel create` makes)."""
    top = CACHE / f"kernel-env-v{TREE_FORMAT}"
    key = {"format": TREE_FORMAT, "python": BASE_PYTHON}
    project = top / "kproj"
    if _stamped(top, key) is None:
        log("building the kernel project...")
        _fresh(top)
        build_env(project, "project", True, compile_bytecode=True)
        (top / "manifest.json").write_text(json.dumps({"key": key}))
    return str(project)


# -- the peers' environment ---------------------------------------------------------------

PEERS_VENV = CACHE / "peers-venv"
PEER_PACKAGES = ("nb-venv-kernels", "py-spy", "pyinstrument")


def peers_python(log: Callable[[str], None] = print) -> str | None:
    """The interpreter of the separate peers venv (made on first use), or None if uv cannot
    install it (no index reachable and nothing cached): peer rows are then skipped."""
    python = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".bench-complete"
    if stamp.exists():
        return str(python)
    log("installing the peers venv (nb-venv-kernels, py-spy, pyinstrument)...")
    try:
        if PEERS_VENV.exists():
            shutil.rmtree(PEERS_VENV)
        run_uv("venv", "--python", BASE_PYTHON, str(PEERS_VENV))
        run_uv("pip", "install", "--python", str(python), "--", *PEER_PACKAGES)
    except RuntimeError as e:
        log(f"  note: the peers venv could not be installed, peer rows are skipped ({e})")
        return None
    stamp.write_text("ok\n")
    return str(python)
