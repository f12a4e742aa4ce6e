"""Stored analysis runs reused while their inputs are unchanged: the one cache of every analysis.

A run (:meth:`Store.save_analysis`) records its parameters, the network version and the revision of each input
layer it read. :class:`RunCache` answers "the current run for these parameters": the newest finished run of its kind
whose parameters, network version and input-layer revisions all equal today's, else a new computation. The same
revisions key the in-process caches of prepared inputs (:func:`input_revisions`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from ._errors import NotComputedError

T = TypeVar("T")


class RunStore(Protocol):
    """What the run cache needs of a store (:class:`geo_service.core.storage.Store`)."""

    def layer_revisions(self) -> dict[str, int]: ...

    def list_analyses(self, kind: str | None = None, limit: int = 100) -> list[dict]: ...

    def get_analysis(self, run_id: int) -> dict: ...


def input_revisions(store: RunStore, layers: Iterable[str]) -> dict[str, int]:
    """The revision of each of ``layers`` (0 for a layer never written): the data part of every cache key."""
    return revisions_of(store.layer_revisions(), layers)


def revisions_of(revisions: Mapping[str, int], layers: Iterable[str]) -> dict[str, int]:
    """The revision of each of ``layers`` in a layer -> revision mapping (0 for a layer never written)."""
    return {k: int(revisions.get(k, 0)) for k in layers}


class RunCache:
    """The stored runs of one analysis kind, keyed by parameters, network version and input-layer revisions.

    Parameters
    ----------
    kind : str
        The analysis kind stored with each run (``coverage``, ``audit``…).
    input_layers : tuple of str
        The layers the analysis reads; a change to any of them makes earlier runs stale.

    One computation at a time per kind: concurrent requests for the same inputs wait and share the run.
    """

    def __init__(self, kind: str, input_layers: tuple[str, ...]):
        self.kind = kind
        self.input_layers = tuple(input_layers)
        self._lock = threading.Lock()

    def revisions(self, store: RunStore, current: Mapping[str, int] | None = None) -> dict[str, int]:
        """The revisions of the input layers, to store with a new run: the store's now, or those of ``current``
        (all layers' revisions read by the caller, e.g. inside the transaction that writes the run)."""
        return revisions_of(store.layer_revisions() if current is None else current, self.input_layers)

    def find(self, store: RunStore, want: Mapping[str, Any], network_version: Any) -> dict | None:
        """The newest finished run with parameters ``want`` that saw today's inputs, or None."""
        revisions = self.revisions(store)
        for run in store.list_analyses(self.kind, limit=50):
            if run["status"] != "done" or run["network_version"] != network_version:
                continue
            if any(run["params"].get(k) != v for k, v in want.items()):
                continue
            if {k: run["data_revisions"].get(k) for k in self.input_layers} != revisions:
                continue
            return store.get_analysis(run["id"])
        return None

    def current(
        self,
        store: RunStore,
        want: Mapping[str, Any],
        network_version: Callable[[], Any],
        compute: Callable[[], int],
        *,
        recompute: bool = False,
        allow_compute: bool = True,
    ) -> dict:
        """The current run for ``want``: a stored one (unless ``recompute``), else ``compute()``'s (a run id).

        With ``allow_compute=False`` a missing run raises :class:`NotComputedError` (HTTP 401) instead: anonymous
        readers see published results but start no computation with parameters of their own.
        """
        with self._lock:
            if not recompute:
                run = self.find(store, want, network_version())
                if run is not None:
                    return run
            if not allow_compute:
                raise NotComputedError(
                    f"no stored {self.kind} result for these parameters; computing one needs a signed-in user "
                    "(Authorization: Bearer <token>)",
                    "这些参数的分析结果尚未计算；计算新结果须登录（请求头 Authorization: Bearer 令牌）。"
                    "默认参数的结果可直接查看。",
                    kind=self.kind,
                )
            return store.get_analysis(compute())


class MemoCache:
    """A small in-process LRU of prepared inputs (unit tiles, stations…), keyed by the caller's revisions key."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value under ``key``, built (outside the lock) and kept when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
