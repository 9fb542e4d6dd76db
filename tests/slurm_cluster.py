"""A real one-node Slurm cluster on 127.0.0.1, for the tests of batch jobs.

The session fixture ``slurm_cluster`` starts Debian's munged, slurmctld and slurmd as root
(no systemd), everything in a tmp dir: their own munge key and socket, a minimal
slurm.conf with free ports, state, spool, logs and pid files. Only sessions that ask for
the fixture pay for it (about a second). The node has 2 CPUs, a little memory and one
pretend GPU (``File=/dev/null``), so ``--gpus-per-node=1`` is accepted and scheduled.

If Slurm is not installed the fixture fails, it does not skip: ``scripts/test`` installs
``slurm-wlm`` and ``munge``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

#: The default (and only) partition.
PARTITION = "debug"
#: Where Debian puts the daemons (not on a non-root PATH).
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
_START_TIMEOUT = 30.0


def _find(program: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(program, path=path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _memory_mb() -> int:
    """RealMemory for the node: at most what the machine has (else slurmd is refused)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return min(2048, int(line.split()[1]) // 1024 // 2)
    return 512


@dataclass
class SlurmCluster:
    """A running one-node cluster. ``env`` holds the variables a process needs to use it
    (``SLURM_CONF``, and ``PATH`` with Slurm's commands); :meth:`environ` is the current
    environment plus those."""

    directory: Path
    conf: Path
    node: str
    env: dict[str, str]
    partition: str = PARTITION
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)
    _scratch: list[Path] = field(default_factory=list)

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command against this cluster (for fixtures and assertions)."""
        return subprocess.run(
            list(argv),
            env=self.environ(),
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def logs(self) -> str:
        """The daemons' logs, for failure messages."""
        parts = []
        for name in ("munged", "slurmctld", "slurmd"):
            for path in sorted(self.directory.glob(f"{name}*.log")):
                text = path.read_text(errors="replace")[-4000:]
                parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts)

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.directory / f"{name}.stdio.log", "wb")  # noqa: SIM115
        self._logs.append(log)
        self._procs[name] = subprocess.Popen(
            argv,
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}")
            answer = self.run("sinfo", "-h", "-N", "-n", self.node, "-o", "%T", check=False)
            state = answer.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.1)
        raise RuntimeError(f"the node is still {state or 'unknown'!r} after {_START_TIMEOUT:g} s")

    def stop(self) -> None:
        """Cancel every job, then stop the daemons (slurmd, slurmctld, munged)."""
        if self._procs.get("slurmctld") and self._procs["slurmctld"].poll() is None:
            self.run("scancel", f"--partition={self.partition}", check=False)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                left = self.run("squeue", "-h", "-t", "R,CG", "-o", "%i", check=False)
                if left.returncode != 0 or not left.stdout.strip():
                    break
                time.sleep(0.2)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._procs.get(name)
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()
        for scratch in self._scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _slurm_conf(d: Path, node: str, munge_socket: Path) -> str:
    return f"""\
ClusterName=uvk-test
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=64
GresTypes=gpu
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=60
KillWait=2
InactiveLimit=0
NodeName={node} NodeAddr=127.0.0.1 CPUs=2 RealMemory={_memory_mb()} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def start_cluster(directory: Path) -> SlurmCluster:
    """Start munged, slurmctld and slurmd in ``directory``; wait until the node is idle."""
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch") if _find(p) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the batch-job tests need a real Slurm. Install "
            "Debian's slurm-wlm and munge (`apt-get install slurm-wlm munge`, as "
            "scripts/test does when it runs as root).",
            pytrace=False,
        )
    node = socket.gethostname().split(".")[0]
    # A unix socket path must fit in 108 bytes: pytest's tmp dirs can be long.
    short = len(str(directory)) < 80
    sock_dir = directory if short else Path(tempfile.mkdtemp(prefix="uvk-munge-"))
    munge_socket = sock_dir / "munge.socket"
    for sub in ("state", "spool"):
        (directory / sub).mkdir()
    conf = directory / "slurm.conf"
    conf.write_text(_slurm_conf(directory, node, munge_socket))
    (directory / "gres.conf").write_text(
        f"AutoDetect=off\nNodeName={node} Name=gpu File=/dev/null\n"
    )
    key = directory / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    cluster = SlurmCluster(directory, conf, node, {"SLURM_CONF": str(conf), "PATH": path})
    if not short:
        cluster._scratch.append(sock_dir)
    try:
        # Foreground (-F / -D), so the fixture owns each daemon's process and its exit.
        cluster._start("munged", [
            str(_find("munged")), "-F", "--force", f"--socket={munge_socket}",
            f"--key-file={key}", f"--log-file={directory}/munged.log",
            f"--pid-file={directory}/munged.pid", f"--seed-file={directory}/munged.seed",
        ])  # fmt: skip
        _wait_for(munge_socket, cluster)
        cluster._start("slurmctld", [str(_find("slurmctld")), "-D", "-i", "-f", str(conf)])
        cluster._start("slurmd", [str(_find("slurmd")), "-D", "-f", str(conf), "-N", node])
        cluster._wait_idle()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        logs = cluster.logs()
        cluster.stop()
        pytest.fail(f"the test Slurm cluster did not start: {e}\n{logs}", pytrace=False)
    return cluster


def _wait_for(path: Path, cluster: SlurmCluster, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"munged did not create {path} within {timeout:g} s")
        if cluster._procs["munged"].poll() is not None:
            raise RuntimeError(f"munged exited with {cluster._procs['munged'].returncode}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running one-node Slurm cluster for the whole session (see the module's doc)."""
    cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster
    finally:
        cluster.stop()
