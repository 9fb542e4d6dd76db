"""Which filesystem a root is on, and how many threads its walk should use.

Each metadata call (``scandir``, ``stat``) on a parallel or network filesystem (GPFS such
as GLADE, Lustre, NFS, SMB) waits for a server, so a walk with several threads in flight
hides that latency; on a local disk one thread is fastest (the kernel's dentry cache
answers at once and threads only add switching). ``filesystem_type`` asks the kernel
through ``statfs(2)`` (libc, via ctypes) and reads ``f_type``; where that is not possible
it falls back to ``/proc/self/mountinfo``. One call per root, cached for the life of the
process (a root does not change filesystem under a running server).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import platform
import sys

log = logging.getLogger(__name__)

#: Workers for a root on a parallel or network filesystem (the contract of
#: ``UvKernels.scan_workers``, and what the GLADE benchmark shows hides the latency).
PARALLEL_WORKERS = 8

#: ``f_type`` magic numbers (linux/magic.h and the filesystems' own headers) -> our name.
MAGIC: dict[int, str] = {
    0x47504653: "gpfs",
    0x0BD00BD0: "lustre",
    0x6969: "nfs",
    0xFF534D42: "smb",  # CIFS
    0xFE534D42: "smb",  # SMB2
    0x517B: "smb",  # smbfs
    0x00C36400: "ceph",
    0x19830326: "beegfs",
    0xAAD7AAEA: "panfs",
    0xEF53: "ext4",  # ext2, ext3 and ext4 share one magic number
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x01021994: "tmpfs",
    0x794C7630: "overlay",
    0x2FC12FC1: "zfs",
    0x65735546: "fuse",
    0x9FA0: "proc",
    0x62656572: "sysfs",
}

#: mountinfo's type names -> the same names as ``MAGIC`` gives.
MOUNT_TYPES: dict[str, str] = {
    "ext2": "ext4",
    "ext3": "ext4",
    "nfs4": "nfs",
    "cifs": "smb",
    "smb3": "smb",
    "smbfs": "smb",
    "fuse.ceph": "ceph",
    "fuse.ceph-fuse": "ceph",
}

#: Filesystems where every metadata call is a network round trip: walk them in parallel.
PARALLEL_FILESYSTEMS = frozenset({"gpfs", "lustre", "nfs", "smb", "ceph", "beegfs", "panfs"})


class _StatfsBuffer(ctypes.Structure):
    # ``f_type`` is the first member of struct statfs on every Linux ABI (a long, an
    # unsigned int on s390x); the rest is never read, only given room (the real struct is
    # 120 bytes on 64-bit Linux).
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 248)]


@functools.lru_cache(maxsize=1)
def _libc_statfs() -> object | None:
    if not sys.platform.startswith("linux"):
        return None  # other systems lay out struct statfs differently
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.statfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(_StatfsBuffer)]
    fn.restype = ctypes.c_int
    return fn


def statfs_magic(path: str) -> int | None:
    """``f_type`` of the filesystem ``path`` is on, from ``statfs(2)``; None when it cannot
    be asked (not Linux, no libc, or the call failed)."""
    fn = _libc_statfs()
    if fn is None:
        return None
    buf = _StatfsBuffer()
    if fn(os.fsencode(path), ctypes.byref(buf)) != 0:  # type: ignore[operator]
        return None
    f_type = int(buf.f_type)
    if platform.machine() == "s390x":  # a 4-byte f_type, big-endian: the high half
        return (f_type >> 32) & 0xFFFFFFFF
    return f_type & 0xFFFFFFFF


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline and backslash in a path as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mountinfo_type(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The filesystem name of the mount whose mount point is the longest prefix of
    ``path``'s realpath, from ``mountinfo``; None when it cannot be read."""
    real = os.path.realpath(path)
    best, best_type = "", None
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        point = _unescape(fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        # A later mount on the same point hides the earlier one: >= keeps the last.
        if inside and len(point) >= len(best):
            best, best_type = point, right.split()[0]
    if best_type is None:
        return None
    return MOUNT_TYPES.get(best_type, best_type)


@functools.lru_cache(maxsize=256)
def filesystem_type(path: str) -> str:
    """``gpfs``, ``lustre``, ``nfs``, ``smb``, ``ext4``, ``xfs``, ``tmpfs``, ``overlay`` …
    for the filesystem ``path`` is on; ``unknown`` when neither statfs nor mountinfo tells.
    Cached per path for the life of the process."""
    magic = statfs_magic(path)
    found = MAGIC.get(magic) if magic is not None else None
    # A magic number we have no name for: mountinfo may know the name.
    return found or mountinfo_type(path) or "unknown"


def workers_for(roots: list[str], configured: int) -> tuple[int, str]:
    """How many threads should walk ``roots``, and why (for the log).

    ``configured`` > 0 wins. Otherwise ``PARALLEL_WORKERS`` when any root is on a parallel
    or network filesystem, else 1 (a local disk).
    """
    if configured > 0:
        return configured, "set by UvKernels.scan_workers"
    kinds = [(root, filesystem_type(root)) for root in roots]
    for root, kind in kinds:
        if kind in PARALLEL_FILESYSTEMS:
            return PARALLEL_WORKERS, f"{root} is on {kind}"
    seen = ", ".join(f"{root} is on {kind}" for root, kind in kinds) or "no roots"
    return 1, f"local disk ({seen})"
