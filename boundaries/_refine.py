"""Ejection chains: moving households along paths of parts into a tight household band, and
compactness moves that keep it.

Single-unit moves stall when the band is narrow (say ±5 % around the mean): an over-full part's
boundary units all border parts that are full too, or a short part's neighbours cannot spare a unit.
An *ejection chain* moves one boundary unit from each part of a path of parts into the next one,

    p -> x1 -> x2 -> ... -> xm      (p over the band: households flow away from p)
    p <- x1 <- x2 <- ... <- xm      (p under the band: households flow into p)

so that each intermediate part gives one unit and takes another and only the two ends change size
by a whole unit.  A *cycle* closes the path back at ``p`` (``xm`` gives a unit to ``p``, or takes one
from it), so ``p`` changes by the difference of two units: this is how a part over the band by less
than its smallest boundary unit gets in.  Strict chains let no part get further from the band;
relaxed ones (tried when no strict one exists) only need the total distance to fall.  Either way the
total distance to the band (households) falls with every chain, so the search ends.  Chains are
searched breadth first over states "unit ``u`` has just entered (left) part ``x``", shortest first;
among the shortest, the one lowering the total distance most, then cutting the least boundary
(weighted shared boundary, m), is applied.

Contiguity: every move of a chain is checked on the labels before the chain (a part gives a unit
whose removal keeps it connected, and takes one that touches it away from the unit it gives); the
moves are applied from the far end of the chain back to ``p``, so each one is a single-unit move
that keeps both parts connected.  A path never visits a part twice.

:func:`compact_chains` then tries single-unit moves that raise the Polsby-Popper values of the two
parts (areas and perimeters of unit tiles, metric CRS) even when they push a part out of the band,
each repaired by short chains; a trial is kept only if both parts end in the band and the sum of
Polsby-Popper of the parts it touched rose.

The module is pure Python over the adjacency lists of :class:`boundaries.delineate._Local`
(``nbr``, ``wt``, ``ln``, ``area``, ``perim``, ``hh_l``, ``connected_without``); households are
integers.  There is no randomness and no clock: the same input gives the same moves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["band_chains", "compact_chains", "subset_sum_reaches"]


def _viol(h: int, lo: int, hi: int) -> int:
    """Households outside the band ``[lo, hi]`` (0 inside)."""
    return lo - h if h < lo else (h - hi if h > hi else 0)


class _Parts:
    """Labels with each part's households, unit count and members, kept together by :meth:`apply`;
    per part, its boundary pairs and which of its units may leave it (cached until the part changes)."""

    def __init__(self, loc, labels: list, part_hh: dict):
        self.loc, self.labels, self.hh = loc, labels, part_hh
        self.n: dict = {q: 0 for q in part_hh}
        self.members: dict = {q: set() for q in part_hh}
        for v, q in enumerate(labels):
            self.n[q] = self.n.get(q, 0) + 1
            self.members.setdefault(q, set()).add(v)
        self._pairs: dict = {}
        self._removable: dict = {}
        self._links: dict = {}
        self.shaped = loc.area is not None
        if self.shaped:  # area (m²) and perimeter (m) of every part
            self.area = {q: sum(loc.area[v] for v in m) for q, m in self.members.items()}
            self.perim = {q: sum(loc.perim[v] for v in m) for q, m in self.members.items()}
            for v, q in enumerate(labels):
                self.perim[q] -= sum(c for w, c in zip(loc.nbr[v], loc.ln[v]) if labels[w] == q)

    def apply(self, moves: list) -> None:
        """Make the moves ``(unit, from, to)`` in order."""
        hh = self.loc.hh_l
        for u, a, b in moves:
            if self.shaped:
                self._reshape(u, a, b)
            self.labels[u] = b
            self.hh[a] -= hh[u]
            self.hh[b] += hh[u]
            self.n[a] -= 1
            self.n[b] += 1
            self.members[a].discard(u)
            self.members[b].add(u)
            for q in (a, b):
                self._pairs.pop(q, None)
                self._removable.pop(q, None)
                self._links.pop((q, True), None)
                self._links.pop((q, False), None)
            for w in self.loc.nbr[u]:  # links name the part of each unit across a boundary
                self._links.pop((self.labels[w], True), None)
                self._links.pop((self.labels[w], False), None)

    def _reshape(self, u: int, a: int, b: int) -> None:
        loc, lab = self.loc, self.labels
        sa = sb = 0.0
        for w, c in zip(loc.nbr[u], loc.ln[u]):
            if lab[w] == a:
                sa += c
            elif lab[w] == b:
                sb += c
        self.perim[a] += 2 * sa - loc.perim[u]
        self.perim[b] += loc.perim[u] - 2 * sb
        self.area[a] -= loc.area[u]
        self.area[b] += loc.area[u]

    def pp(self, q: int) -> float:
        """Polsby-Popper 4πA/P² of part ``q`` from its tiles."""
        return 4 * math.pi * self.area[q] / max(self.perim[q], 1e-9) ** 2

    def undo(self, moves: list) -> None:
        self.apply([(u, b, a) for u, a, b in reversed(moves)])

    def pairs(self, x: int) -> list:
        """Adjacent ``(inside, outside)`` unit pairs on the boundary of part ``x``."""
        out = self._pairs.get(x)
        if out is None:
            lab, nbr = self.labels, self.loc.nbr
            out = [(a, b) for a in sorted(self.members[x]) for b in nbr[a] if lab[b] != x]
            self._pairs[x] = out
        return out

    def removable(self, v: int) -> bool:
        """Can ``v`` leave its part without disconnecting it (and without emptying it)?  A search from
        ``v`` for the first few units asked about a part, then all its articulation units at once."""
        x = self.labels[v]
        if self.n[x] <= 1:
            return False
        known = self._removable.setdefault(x, {})
        if isinstance(known, set):
            return v not in known
        r = known.get(v)
        if r is None:
            if len(known) >= 3:
                self._removable[x] = _cut_units(sorted(self.members[x]), self.loc.nbr, self.labels, x)
                return v not in self._removable[x]
            r = known[v] = self.loc.connected_without(self.labels, v)
        return r

    def links(self, x: int, over: bool) -> list:
        """Distinct ``(unit, other part, unit's households)`` across the boundary of part ``x``: units of
        ``x`` and the part they touch (``over``), or units touching ``x`` and their part."""
        out = self._links.get((x, over))
        if out is None:
            lab, hh = self.labels, self.loc.hh_l
            seen: set = set()
            out = []
            for a, b in self.pairs(x):
                unit = a if over else b
                if (unit, lab[b]) not in seen:
                    seen.add((unit, lab[b]))
                    out.append((unit, lab[b], hh[unit]))
            self._links[(x, over)] = out
        return out


def _cut_units(members: list, nbr: list, labels: list, x: int) -> set:
    """Articulation units of part ``x`` (its units whose removal disconnects it): iterative Tarjan DFS."""
    disc: dict = {}
    low: dict = {}
    cut: set = set()
    t = 0
    for root in members:
        if root in disc:
            continue
        disc[root] = low[root] = t
        t += 1
        root_children = 0
        stack = [(root, -1, iter(nbr[root]))]
        while stack:
            v, parent, it = stack[-1]
            for w in it:
                if labels[w] != x:
                    continue
                if w not in disc:
                    disc[w] = low[w] = t
                    t += 1
                    root_children += v == root
                    stack.append((w, v, iter(nbr[w])))
                    break
                if w != parent and disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                stack.pop()
                if parent >= 0:
                    low[parent] = min(low[parent], low[v])
                    if parent != root and low[v] >= disc[parent]:
                        cut.add(parent)
        if root_children > 1:
            cut.add(root)
    return cut


class _Search:
    """One chain search over the current labels (labels are not changed while searching)."""

    def __init__(self, parts: _Parts, lo: int, hi: int, relaxed: bool = False, frozen: frozenset = frozenset()):
        self.relaxed, self.frozen = relaxed, frozen
        self.loc, self.labels, self.part_hh = parts.loc, parts.labels, parts.hh
        self.pairs, self._removable, self.links = parts.pairs, parts.removable, parts.links
        self.lo, self.hi = lo, hi

    def removable(self, v: int) -> bool:
        return v not in self.frozen and self._removable(v)

    def touches_without(self, v: int, x: int, other: int) -> bool:
        """Does unit ``v`` touch part ``x`` through a unit other than ``other``?"""
        lab = self.labels
        return any(lab[w] == x and w != other for w in self.loc.nbr[v])

    def viol(self, x: int, delta: int = 0) -> int:
        return _viol(self.part_hh[x] + delta, self.lo, self.hi)


def _steps(s: _Search, over: bool, x: int, u: int, w_in: int, path, limit: float) -> list:
    """Next links of a chain at part ``x``: ``(unit, next part, change of x's distance to the band)``.

    ``over``: households flow away from the start; ``u`` (``w_in`` households, -1 at the start) has
    just entered ``x`` and ``x`` now gives a unit to the next part.  Otherwise ``u`` has just left
    ``x`` and ``x`` takes a unit from the next part.  Changes of x's distance to the band above
    ``limit`` are refused.
    """
    lo, hi = s.lo, s.hi
    h0 = s.part_hh[x]
    base = _viol(h0, lo, hi)
    out = []
    for unit, z, hu in s.links(x, over):
        if z in path:
            continue
        h = h0 + w_in - hu if over else h0 + hu - w_in
        d = (lo - h if h < lo else (h - hi if h > hi else 0)) - base
        if d > limit or not s.removable(unit):
            continue
        if u >= 0 and not (s.touches_without(u, x, unit) if over else s.touches_without(unit, x, u)):
            continue
        out.append((unit, z, d))
    return out


def _ends(s: _Search, over: bool, p: int, st: tuple) -> Iterable[tuple[int, tuple | None]]:
    """Ways the chain in state ``st`` can end: ``(change of the total distance to the band, closing move)``.

    Either the last part just keeps the unit it took (gave), or, closing a cycle, it gives a unit
    to (takes one from) the start ``p``; a cycle changes ``p`` by the difference of two units.
    """
    u, x, _, gain, _, d0, first = st
    hh = s.loc.hh_l
    w = hh[u] if over else -hh[u]
    base_p, base_x = s.viol(p), s.viol(x)
    end = s.viol(x, w) - base_x
    if d0 < 0 and (gain + d0 + end < 0 if s.relaxed else end <= 0):
        yield gain + d0 + end, None
    for c, z, hc in s.links(x, over):
        if z != p:
            continue
        dx = s.viol(x, w - hc if over else w + hc) - base_x
        dp = s.viol(p, hc - hh[first] if over else hh[first] - hc) - base_p
        if dp >= 0 or dx > 0 or not s.removable(c):
            continue
        touch = (
            s.touches_without(u, x, c) and s.touches_without(c, p, first)
            if over
            else (s.touches_without(c, x, u) and s.touches_without(first, p, c))
        )
        if touch:
            yield gain + dp + dx, ((c, x, p) if over else (c, p, x))


def _find_chain(s: _Search, p: int, max_depth: int, max_states: int = 4000) -> list | None:
    """Shortest chain (or cycle) from part ``p`` that brings the parts closer to the band in total and
    ``p`` closer; its moves ``(unit, from, to)``, far end first, or None."""
    over = s.part_hh[p] > s.hi
    hh = s.loc.hh_l
    # a state: (unit, part, parent state, change of the intermediate parts, parts on the path,
    #           change of p by its first move, first unit)
    level = [(u, z, -1, 0, frozenset((p, z)), d, u) for u, z, d in _steps(s, over, p, -1, 0, {p}, math.inf)]
    states: list = []
    visited = set()
    for _ in range(max_depth):
        ends, nxt = [], []
        for st in level:
            u, x, parent, gain, path, d0, first = st
            if (u, x, d0 < 0) in visited:
                continue
            visited.add((u, x, d0 < 0))
            states.append((u, x, parent))
            k = len(states) - 1
            ends += [(total, k, close) for total, close in _ends(s, over, p, st)]
            limit = -(gain + d0) - 1 if s.relaxed and d0 < 0 else 0
            for u2, z, d in _steps(s, over, x, u, hh[u], path, limit):
                nxt.append((u2, z, k, gain + d, path | {z}, d0, first))
        if ends:  # the largest fall of the distance, then the shortest cut
            low = min(e[0] for e in ends)
            moves = [_moves(states, k, over, p, s.labels, close) for total, k, close in ends if total == low]
            return min(moves, key=lambda m: _cut_of(s, m))
        if not nxt or len(states) > max_states:
            return None
        level = nxt
    return None


def _moves(states: list, k: int, over: bool, p: int, labels: list, close: tuple | None = None) -> list:
    """The moves of the chain ending at state ``k`` (and its closing move), far end first."""
    out = [close] if close is not None else []
    while k >= 0:
        u, x, parent = states[k]
        out.append((u, labels[u], x) if over else (u, labels[u], states[parent][1] if parent >= 0 else p))
        k = parent
    return out


def _cut_of(s: _Search, moves: list) -> float:
    """Increase of the weighted cut (m) by the moves, each counted against the labels before them."""
    lab, nbr, wt = s.labels, s.loc.nbr, s.loc.wt
    total = 0.0
    for u, src, dst in moves:
        for w, c in zip(nbr[u], wt[u]):
            if lab[w] == src:
                total += c
            elif lab[w] == dst:
                total -= c
    return total


def band_chains(loc, labels: list, part_hh: dict, lo: int, hi: int, *, max_depth: int = 40, max_chains: int = 0) -> int:
    """Bring parts into the band ``[lo, hi]`` (households) by ejection chains; returns the units moved.

    ``labels`` and ``part_hh`` are updated in place.  Parts furthest from the band go first; strict
    chains (no part further from the band) are tried before relaxed ones (the total distance falls).
    Stops when every part is in the band, when no part outside it has a chain, or after
    ``max_chains`` chains (default: 10 per part + 100).
    """
    if not any(_viol(h, lo, hi) for h in part_hh.values()):
        return 0
    parts = _Parts(loc, labels, part_hh)
    moved = 0
    for _ in range(max_chains or 10 * len(part_hh) + 100):
        bad = sorted((q for q, h in part_hh.items() if _viol(h, lo, hi)), key=lambda q: (-_viol(part_hh[q], lo, hi), q))
        chain = None
        for relaxed in (False, True):
            for p in bad:
                chain = _find_chain(_Search(parts, lo, hi, relaxed), p, max_depth)
                if chain is not None:
                    break
            if chain is not None:
                break
        if chain is None:
            break
        parts.apply(chain)
        moved += len(chain)
    return moved


def _local_cut(loc, labels: list, units: Iterable[int]) -> float:
    """Weighted cut (m) of the edges at ``units``, each edge once."""
    units = set(units)
    total = 0.0
    for v in units:
        for w, c in zip(loc.nbr[v], loc.wt[v]):
            if labels[w] != labels[v] and (w not in units or w > v):
                total += c
    return total


def compact_chains(
    loc,
    labels: list,
    part_hh: dict,
    lo: int,
    hi: int,
    *,
    sweeps: int = 5,
    max_depth: int = 3,
    max_trials: int = 5000,
    repair: bool = True,
) -> int:
    """Moves that make parts more compact though they push a part out of ``[lo, hi]`` (households),
    each followed by short chains that bring the two parts back.

    Compactness: the sum of the parts' Polsby-Popper values (tiles, metric CRS) when ``loc`` has tile
    shapes, else the weighted cut (m).  A trial is kept only when both parts end inside ``[lo, hi]``
    and compactness improves; parts outside it before are not touched.  ``labels`` and ``part_hh`` are
    updated in place; returns the units moved.  At most ``max_trials`` trials (deterministic).
    ``repair=False``: only moves that keep both parts inside ``[lo, hi]`` by themselves.
    """
    parts = _Parts(loc, labels, part_hh)
    moved, trials = 0, 0
    version = dict.fromkeys(part_hh, 0)  # bumped when a kept trial changes a part
    failed: dict = {}  # (unit, from, to) -> versions of the two parts when it last failed
    dirty = None  # parts changed in the last sweep (None: all); other pairs of parts were tried already
    for _ in range(sweeps):
        changed, touched = 0, set()
        for v, a, b in _candidates(parts, dirty):
            if labels[v] != a or _viol(part_hh[a], lo, hi) or _viol(part_hh[b], lo, hi):
                continue
            if not any(labels[w] == b for w in loc.nbr[v]):  # listed at the sweep's start; b has moved away
                continue
            if parts.n[a] <= 1 or failed.get((v, a, b)) == (version[a], version[b]) or not parts.removable(v):
                continue
            trials += 1
            if trials > max_trials:
                return moved + changed
            hv = loc.hh_l[v]
            if _viol(part_hh[a] - hv, lo, hi) or _viol(part_hh[b] + hv, lo, hi):
                if not repair:
                    continue
                kept = _trial(parts, [(v, a, b)], lo, hi, max_depth)
            elif _gain_now(parts, v, a, b) > 1e-9:  # no repair needed: the move alone
                kept = [(v, a, b)]
                parts.apply(kept)
            else:
                continue
            if not kept:
                failed[(v, a, b)] = (version[a], version[b])
                continue
            for _, x, y in kept:
                version[x] += 1
                version[y] += 1
                touched |= {x, y}
            changed += len(kept)
        moved += changed
        dirty = touched
        if not changed:
            break
    return moved


def _trial(parts: _Parts, trial: list, lo: int, hi: int, max_depth: int) -> list:
    """Make the move, repair the band with chains, keep it all if more compact; the moves kept ([]: undone)."""
    parts.apply(trial)
    fix = _repair_trial(parts, (trial[0][1], trial[0][2]), lo, hi, max_depth, frozenset((trial[0][0],)))
    if fix is None:
        parts.undo(trial)
        return []
    trial = trial + fix
    after = _compactness(parts, trial)
    parts.undo(trial)
    if after <= _compactness(parts, trial) + 1e-9:
        return []
    parts.apply(trial)
    return trial


def _gain_now(parts: _Parts, v: int, a: int, b: int) -> float:
    """Compactness gain of moving unit ``v`` from ``a`` to ``b`` alone (Polsby-Popper sum, or cut in m)."""
    if parts.shaped:
        return _compactness_gain(parts, v, a, b, {a: parts.pp(a), b: parts.pp(b)})
    lab = parts.labels
    return sum(c if lab[w] == b else -c for w, c in zip(parts.loc.nbr[v], parts.loc.wt[v]) if lab[w] in (a, b))


def _compactness(parts: _Parts, moves: list) -> float:
    """Compactness of what the moves touch (higher is better): the touched parts' sum of Polsby-Popper,
    or minus the weighted cut (m) at the moved units."""
    if parts.shaped:
        return sum(parts.pp(q) for q in {q for _, a, b in moves for q in (a, b)})
    return -_local_cut(parts.loc, parts.labels, {u for u, _, _ in moves})


def _repair_trial(
    parts: _Parts, which: tuple, lo: int, hi: int, max_depth: int, frozen: frozenset, max_states: int = 100
) -> list | None:
    """Chains bringing the parts ``which`` back into the band; their moves, or None with them undone."""
    done: list = []
    for q in which:
        for _ in range(3):
            if not _viol(parts.hh[q], lo, hi):
                break
            chain = _find_chain(_Search(parts, lo, hi, frozen=frozen), q, max_depth, max_states)
            if chain is None:
                break
            parts.apply(chain)
            done.extend(chain)
        if _viol(parts.hh[q], lo, hi):
            parts.undo(done)
            return None
    return done


def _candidates(parts: _Parts, dirty: set | None = None) -> list:
    """Single-unit moves ``(unit, from, to)`` that make the two parts more compact, best first; with
    ``dirty``, only moves from or to those parts."""
    loc, labels = parts.loc, parts.labels
    pp = {q: parts.pp(q) for q in parts.hh} if parts.shaped else {}
    out = []
    for v in range(loc.n):
        a = labels[v]
        nbr = loc.nbr[v]
        if all(labels[w] == a for w in nbr):
            continue
        if parts.shaped:
            for b in {labels[w] for w in nbr} - {a}:
                if dirty is not None and a not in dirty and b not in dirty:
                    continue
                gain = _compactness_gain(parts, v, a, b, pp)
                if gain > 0:
                    out.append((-gain, v, a, b))
            continue
        link: dict = {}
        for w, c in zip(nbr, loc.wt[v]):
            link[labels[w]] = link.get(labels[w], 0.0) + c
        own = link.get(a, 0.0)
        out += [
            (own - c, v, a, b)
            for b, c in link.items()
            if b != a and c > own and (dirty is None or a in dirty or b in dirty)
        ]
    out.sort()
    return [(v, a, b) for _, v, a, b in out]


def _compactness_gain(parts: _Parts, v: int, a: int, b: int, pp: dict) -> float:
    """Change of the Polsby-Popper sum of parts ``a`` and ``b`` (``pp``: their values now) if unit ``v``
    moved from ``a`` to ``b``."""
    loc, lab = parts.loc, parts.labels
    sa = sb = 0.0
    for w, c in zip(loc.nbr[v], loc.ln[v]):
        if lab[w] == a:
            sa += c
        elif lab[w] == b:
            sb += c
    pa = parts.perim[a] + 2 * sa - loc.perim[v]
    pb = parts.perim[b] + loc.perim[v] - 2 * sb
    aa, ab = parts.area[a] - loc.area[v], parts.area[b] + loc.area[v]
    after = 4 * math.pi * (aa / max(pa, 1e-9) ** 2 + ab / max(pb, 1e-9) ** 2)
    return after - pp[a] - pp[b]


def subset_sum_reaches(households: Iterable[int], lo: int, hi: int) -> bool:
    """Does some set of units hold between ``lo`` and ``hi`` households (contiguity ignored)?

    A bitset of reachable sums up to ``hi``; a necessary condition for any community in the band.
    """
    if lo <= 0:
        return True
    mask = (1 << (hi + 1)) - 1
    reach = 1
    band = mask ^ ((1 << lo) - 1)
    for h in households:
        h = int(h)
        if h <= 0 or h > hi:
            continue
        reach = (reach | (reach << h)) & mask
        if reach & band:
            return True
    return False
