"""k-nearest labels shared between processes through one file per (network, category, profile).

The first process that needs labels builds them and writes them to a file beside the network cache
(:func:`.cache.labels_cache_path`): an uncompressed ``.npz`` written to a temporary name and renamed into
place, so a reader sees either the old file or the whole new one.  An ``O_EXCL`` marker (``.lock``) keeps
two processes from building at once: the others wait for the file (up to ``wait_s``), then load it, its
label arrays memory-mapped (the pages are shared by every process on the machine).  The file carries the
key it was built for (network version, layer revision, parameters): a file of another key is stale and
is rebuilt and replaced; a file that cannot be read or fails the checks (truncated, garbage, values out of
range) is ignored and rebuilt, never an error.  A marker older than ``stale_lock_s`` (its builder died)
is taken over.

Units: metres.  CRS: the snapped sources' coordinates are in the network's metric CRS.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .labels import KNearestLabels
from .snapping import Snap

if TYPE_CHECKING:
    from ._walk import WalkNetwork

FORMAT = 1
"""Bumped when the file's arrays change; a file of another format is rebuilt."""
_LABEL_ARRAYS = ("dist_m", "source", "pred")
_SNAP_ARRAYS = ("edge", "frac", "offset_m", "xy", "snapped_xy")


def save_labels(labels: KNearestLabels, path: Path, key: str) -> None:
    """Write ``labels`` (and its snapped sources) for ``key`` to ``path``: temporary file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    arrays = {name: getattr(labels, name) for name in _LABEL_ARRAYS}
    arrays |= {f"snap_{name}": getattr(labels.sources, name) for name in _SNAP_ARRAYS}
    try:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), format=np.array(FORMAT), radius_m=np.array(labels.radius_m), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_labels(path: Path, key: str, net: WalkNetwork) -> KNearestLabels | None:
    """The labels saved at ``path`` for ``key`` on ``net``, label arrays memory-mapped; None when absent,
    stale (another key) or unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if not {"key.npy", "format.npy", "radius_m.npy"} <= names:
                return None
            with z.open("format.npy") as f:
                if int(np.lib.format.read_array(f)) != FORMAT:
                    return None
            with z.open("key.npy") as f:
                if str(np.lib.format.read_array(f)) != key:
                    return None
            with z.open("radius_m.npy") as f:
                radius = float(np.lib.format.read_array(f))
            snap = {}
            for name in _SNAP_ARRAYS:
                with z.open(f"snap_{name}.npy") as f:
                    snap[name] = np.lib.format.read_array(f)
            arrays = {name: _member_memmap(path, z, f"{name}.npy") for name in _LABEL_ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    sources = Snap(**snap)
    if not _consistent(arrays, sources, net):
        return None
    return KNearestLabels(net, sources, radius, arrays["dist_m"], arrays["source"], arrays["pred"])


def _member_memmap(path: Path, z: zipfile.ZipFile, name: str) -> np.ndarray:
    """A stored (uncompressed) ``.npy`` member of the zip at ``path``, memory-mapped read-only."""
    info = z.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError("compressed member")
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise ValueError("bad zip member header")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(start)
        version = np.lib.format.read_magic(f)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read_header is None:
            raise ValueError("unexpected npy version")
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if fortran or dtype.hasobject:
        raise ValueError("unexpected array layout")
    size = int(np.prod(shape)) * dtype.itemsize
    if offset + size > start + info.compress_size or offset + size > path.stat().st_size:
        raise ValueError("truncated member")
    if size == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _consistent(arrays: dict, sources: Snap, net: WalkNetwork) -> bool:
    """Shapes, dtypes and value ranges of loaded labels (a garbled file fails here)."""
    d, s, p = arrays["dist_m"], arrays["source"], arrays["pred"]
    n = net.n_nodes
    if d.ndim != 2 or d.shape[0] != n or s.shape != d.shape or p.shape != d.shape:
        return False
    if d.dtype != np.float64 or s.dtype != np.int32 or p.dtype != np.int32:
        return False
    m = len(sources)
    if any(len(getattr(sources, a)) != m for a in _SNAP_ARRAYS):
        return False
    if m and (sources.edge.min() < -1 or sources.edge.max() >= net.n_edges):
        return False
    if d.size == 0:
        return True
    return bool(
        s.min() >= -1
        and s.max() < max(m, 1)
        and p.min() >= -1
        and p.max() < n
        and not np.isnan(d).any()
        and (d >= 0).all()
        and np.array_equal(s >= 0, np.isfinite(d))
    )


def shared_labels(
    path: Path,
    key: str,
    net: WalkNetwork,
    build: Callable[[], KNearestLabels],
    *,
    wait_s: float = 120.0,
    stale_lock_s: float = 600.0,
) -> tuple[KNearestLabels, str]:
    """The labels for ``key``: from the file at ``path`` when it holds them, else built (once across processes).

    Returns ``(labels, origin)`` with ``origin`` ``"shared_file"`` (loaded) or ``"built"`` (built here and
    written for the others; ``"built"`` too when the file cannot be written, e.g. a read-only data dir).
    """
    labels = load_labels(path, key, net)
    if labels is not None:
        return labels, "shared_file"
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + wait_s
    while True:
        state = _take_lock(lock, stale_lock_s)
        if state == "taken":
            try:
                labels = load_labels(path, key, net)  # written between our first look and the lock
                if labels is not None:
                    return labels, "shared_file"
                return _build_and_share(build, path, key), "built"
            finally:
                lock.unlink(missing_ok=True)
        if state == "unavailable":  # no place to share (read-only data dir): build for this process only
            return build(), "built"
        time.sleep(0.05)
        labels = load_labels(path, key, net)
        if labels is not None:
            return labels, "shared_file"
        if time.monotonic() > deadline:  # another builder is too slow: build here, one rename wins
            return _build_and_share(build, path, key), "built"


def _build_and_share(build, path: Path, key: str):
    """Build the labels and write them for other processes; a write that fails (disk full…) only stays unshared."""
    labels = build()
    try:
        save_labels(labels, path, key)
    except OSError:
        pass
    return labels


def _take_lock(lock: Path, stale_lock_s: float) -> str:
    """Create the marker ``lock`` exclusively: ``"taken"``, ``"busy"`` (another process holds it; one older
    than ``stale_lock_s`` is removed for the next try) or ``"unavailable"`` (the folder is not writable)."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            if time.time() - lock.stat().st_mtime > stale_lock_s:
                lock.unlink(missing_ok=True)
        except OSError:
            pass
        return "busy"
    except OSError:
        return "unavailable"
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return "taken"
