"""Which filesystem a root is on (statfs, mountinfo) and the walk's workers it implies.

No GPFS, Lustre or NFS can be mounted on a test machine, so the parallel-filesystem branch
is tested on the type names (and on a mountinfo text with such mounts); the local branch
and the detection itself run against this machine's real mounts and the real ``stat -f``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_uv_kernels import filesystems
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.discovery import ScanOptions, scan_roots
from jupyter_uv_kernels.filesystems import (
    PARALLEL_WORKERS,
    filesystem_type,
    mountinfo_type,
    statfs_magic,
    workers_for,
)

#: ``stat -f -c %T`` names -> ours (ext2/3/4 share a magic number; we call the family ext4).
STAT_NAMES = {"ext2/ext3": "ext4", "overlayfs": "overlay", "cifs": "smb", "smb2": "smb"}


@pytest.fixture(autouse=True)
def no_cache() -> Iterator[None]:
    filesystem_type.cache_clear()
    yield
    filesystem_type.cache_clear()


def real_mounts() -> list[str]:
    """/, /tmp and (where it is a tmpfs, as on most Linux) /dev/shm: real, different types."""
    return [p for p in ("/", "/tmp", "/dev/shm") if os.path.isdir(p)]


def stat_f(path: str, fmt: str) -> str:
    return subprocess.run(
        ["stat", "-f", "-c", fmt, path], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.parametrize("path", real_mounts())
def test_given_a_real_mount_then_statfs_agrees_with_the_stat_command(path: str) -> None:
    # The same f_type number as coreutils reads, and the same name (in our vocabulary).
    assert statfs_magic(path) == int(stat_f(path, "%t"), 16)
    expected = stat_f(path, "%T")
    assert filesystem_type(path) == STAT_NAMES.get(expected, expected)


@pytest.mark.parametrize("path", real_mounts())
def test_given_a_real_mount_then_the_mountinfo_fallback_agrees_with_statfs(path: str) -> None:
    assert mountinfo_type(path) == filesystem_type(path)


def test_given_no_statfs_then_mountinfo_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = filesystem_type(str(tmp_path))
    filesystem_type.cache_clear()
    monkeypatch.setattr(filesystems, "_libc_statfs", lambda: None)  # as where ctypes fails
    assert statfs_magic(str(tmp_path)) is None
    assert filesystem_type(str(tmp_path)) == expected != "unknown"


def test_given_neither_statfs_nor_mountinfo_then_the_type_is_unknown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(filesystems, "_libc_statfs", lambda: None)
    monkeypatch.setattr(filesystems, "mountinfo_type", lambda path: None)
    assert filesystem_type(str(tmp_path)) == "unknown"
    assert workers_for([str(tmp_path)], 0)[0] == 1


def test_given_a_mountinfo_with_glade_like_mounts_then_the_longest_mount_point_wins(
    tmp_path: Path,
) -> None:
    # The mounts of a Derecho login node, in the kernel's mountinfo format (a space in a
    # mount point is written \040).
    info = tmp_path / "mountinfo"
    info.write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "40 27 0:50 / /glade rw,relatime - gpfs glade rw\n"
        "41 27 0:51 / /lustre/desc1 rw - lustre 10.0.0.1@o2ib:/desc1 rw\n"
        "42 27 0:52 / /home/my\\040dir rw - nfs4 server:/home rw\n"
        "43 27 0:53 / /mnt/share rw - cifs //srv/share rw\n"
        "44 27 0:54 / /tmp rw - tmpfs tmpfs rw\n"
    )
    cases = {
        "/glade/work/jdoe": "gpfs",
        "/lustre/desc1/scratch": "lustre",
        "/home/my dir/x": "nfs",
        "/mnt/share/a": "smb",
        "/tmp": "tmpfs",
        "/glade2": "ext4",  # a prefix of the string but not of the path
    }
    for path, expected in cases.items():
        assert mountinfo_type(path, str(info)) == expected, path


def test_given_local_roots_then_one_worker_and_the_reason_names_the_filesystem(
    tmp_path: Path,
) -> None:
    workers, why = workers_for([str(tmp_path)], 0)
    assert workers == 1
    assert why.startswith("local disk") and filesystem_type(str(tmp_path)) in why


def test_given_a_configured_count_then_it_wins(tmp_path: Path) -> None:
    assert workers_for([str(tmp_path)], 3) == (3, "set by UvKernels.scan_workers")


def test_given_a_root_on_a_parallel_filesystem_then_eight_workers_and_which_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No GPFS (nor Lustre, NFS, SMB) can be mounted here: the decision is tested on the name.
    kinds = {"/home/jdoe": "ext4", "/glade/work/jdoe": "gpfs", "/lustre/x": "lustre"}
    monkeypatch.setattr(filesystems, "filesystem_type", kinds.__getitem__)
    assert workers_for(["/home/jdoe", "/glade/work/jdoe"], 0) == (
        PARALLEL_WORKERS,
        "/glade/work/jdoe is on gpfs",
    )
    assert workers_for(["/lustre/x"], 0)[0] == PARALLEL_WORKERS
    assert workers_for(["/glade/work/jdoe"], 2) == (2, "set by UvKernels.scan_workers")
    assert workers_for(["/home/jdoe"], 0)[0] == 1
    for kind in ("nfs", "smb"):
        kinds["/net/x"] = kind
        assert workers_for(["/net/x"], 0) == (PARALLEL_WORKERS, f"/net/x is on {kind}")


def test_given_scan_workers_0_when_scanned_then_the_choice_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = ScanOptions.from_config(UvKernels(roots=[str(tmp_path)]), [tmp_path])
    assert options.workers == 1
    with caplog.at_level(logging.INFO, logger="jupyter_uv_kernels.discovery"):
        scan_roots(options)
    lines = [r.getMessage() for r in caplog.records if "worker" in r.getMessage()]
    kind = filesystem_type(str(tmp_path))
    assert lines == [
        f"discovery: local disk ({tmp_path} is on {kind}): 1 worker "
        "(scan_workers=0 chooses by filesystem)"
    ]
    set_by = ScanOptions.from_config(UvKernels(scan_workers=4), [tmp_path])
    assert set_by.workers == 4
    assert set_by.workers_reason == "4 workers (set by UvKernels.scan_workers)"
