"""Figure b, by instruction count: what listing 200 kernelspecs costs, ours against stock.

Wall-clock p50/p90 of ``GET /api/kernelspecs`` (figure b in run.py) moves by ±10 % on a
shared 2-core machine. This counts instructions instead (valgrind's callgrind), which is
repeatable whatever else runs: in one process, jupyter_client's ``get_all_specs`` plus the
JSON answer jupyter_server builds from it, for 200 specs of each kind, side by side:

- stock: what ``python -m ipykernel install`` writes;
- ours: what the reconciler writes now (``build_spec``: launcher argv, slim marker);
- format 1: what version 0.1 wrote (``uv-provisioner`` named, the full marker).

Each side is counted with 0 and with N listings; the difference divided by N is the cost of
one listing, start-up excluded. Usage: ``.venv/bin/python benchmarks/listing_instructions.py
[--listings 3]``; about a minute. Needs valgrind (Debian: apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_uv_kernels.environments import Environment
from jupyter_uv_kernels.kernelspec_files import build_spec, write_spec_atomically

SPECS = 200
LISTING = """
import json, sys
from jupyter_client.kernelspec import KernelSpecManager
for _ in range(int(sys.argv[2])):
    specs = KernelSpecManager(kernel_dirs=[sys.argv[1]], ensure_native_kernel=False).get_all_specs()
    json.dumps({"default": "python3", "kernelspecs": {
        n: {"name": n, "spec": i["spec"], "resources": {}} for n, i in specs.items()}})
"""


def write_sides(base: Path) -> dict[str, Path]:
    sides = {name: base / name / "kernels" for name in ("stock", "ours", "format 1")}
    for kernels in sides.values():
        kernels.mkdir(parents=True)
    for i in range(SPECS):
        path = f"/glade/work/jdoe/envs/project-{i:03d}"
        venv = f"{path}/.venv"
        label = f"Python 3.11 (project-{i:03d})"
        stock = {
            "argv": [f"{venv}/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": label,
            "language": "python",
            "metadata": {"debugger": True},
        }
        (sides["stock"] / f"project-{i:03d}").mkdir()
        (sides["stock"] / f"project-{i:03d}" / "kernel.json").write_text(
            json.dumps(stock, indent=1)
        )
        env_id = hashlib.sha256(path.encode()).hexdigest()[:16]
        env = Environment(
            id=env_id, name=f"project-{i:03d}", path=path, kind="project", venv=venv,
            python="3.11.7", has_ipykernel=True, status="ready",
        )  # fmt: skip
        write_spec_atomically(
            sides["ours"], f"uv-project-{i:03d}-{env_id[:8]}", build_spec(env, label)
        )
        old = {
            **stock,
            "metadata": {
                "debugger": True,
                "kernel_provisioner": {
                    "provisioner_name": "uv-provisioner",
                    "config": {"env_path": venv, "kind": "project", "project_path": path},
                },
                "jupyter_uv_kernels": {
                    "format": 1, "owned": True, "env_id": env_id, "path": path, "kind": "project",
                },
            },
        }  # fmt: skip
        spec_dir = sides["format 1"] / f"uv-project-{i:03d}-{env_id[:8]}"
        spec_dir.mkdir()
        (spec_dir / "kernel.json").write_text(json.dumps(old, indent=1, sort_keys=True))
    shutil.rmtree(sides["ours"] / ".jupyter_uv_kernels-staging", ignore_errors=True)
    return sides


def instructions(kernels: Path, listings: int, work: Path) -> int:
    out = work / "callgrind.out"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, "-c", LISTING, str(kernels), str(listings)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))  # type: ignore[union-attr]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listings", type=int, default=3, help="listings counted per side")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sides = write_sides(work)
        cost = {}
        for name, kernels in sides.items():
            start = instructions(kernels, 0, work)
            cost[name] = (instructions(kernels, args.listings, work) - start) / args.listings
    print(f"instructions per listing of {SPECS} kernelspecs (jupyter_client + JSON answer):")
    for name, value in cost.items():
        print(f"  {name:9} {value / 1e6:7.1f} M   {value / cost['stock']:.3f}x stock")


if __name__ == "__main__":
    main()
