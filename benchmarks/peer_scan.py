"""Time nb_venv_kernels' scan; run by the peers venv's Python, never imported by the runner.

``nb_venv_kernels scan --dry-run`` is ``VEnvKernelSpecManager().scan_environments(path,
max_depth=..., dry_run=True)`` (its cli.py); we call that API in-process so that the
figure is the scan alone, without the interpreter start-up the CLI adds. HOME is a fresh
temporary directory (the runner sets it), so its registries start empty.

Usage: python peer_scan.py ROOT DEPTH RUNS  ->  prints {"times": [...], "found": N}
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    root, depth, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from nb_venv_kernels.manager import VEnvKernelSpecManager

    manager = VEnvKernelSpecManager()
    times = []
    found = 0
    for _ in range(runs + 1):  # the first run is the warm-up
        started = time.perf_counter()
        result = manager.scan_environments(root, max_depth=depth, dry_run=True)
        times.append(time.perf_counter() - started)
        found = len(result["environments"])
    print(json.dumps({"times": times[1:], "found": found}))


if __name__ == "__main__":
    main()
