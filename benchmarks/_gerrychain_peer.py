"""GerryChain peer of ``benchmarks/delineation.py``, run by a Python that has GerryChain 1.0 installed.

GerryChain 1.0 needs pandas >= 3 and the project pins pandas < 3, so it cannot live in the project's
virtual environment: make a separate one (``python3 -m venv /tmp/gc && /tmp/gc/bin/pip install
gerrychain==1.0.0``) and pass its interpreter with ``--gerrychain-python``.  This script imports
nothing of the project.

Reads JSON from stdin: ``n`` (units), ``i``/``j`` (edges), ``pop`` (households per unit), ``k``,
``epsilon`` (band half-width as a share of the mean), ``steps`` (ReCom steps), ``seed``.  Writes JSON to
stdout: ``status`` (``ok`` or ``no_plan``), ``seconds``, ``labels`` (the last plan of the chain), ``note``.

Method: the GerryChain recipe -- ``recursive_tree_part`` for a seed plan with every district within
``epsilon`` of the mean, then a ReCom Markov chain of ``steps`` steps constrained to the same
``epsilon``; the chain's last plan is scored (ReCom samples plans, it does not optimise compactness).
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial


def main() -> None:
    import networkx as nx
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.partition import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.tree import bipartition_tree

    job = json.load(sys.stdin)
    g = nx.Graph()
    g.add_nodes_from((u, {"population": int(p)}) for u, p in enumerate(job["pop"]))
    g.add_edges_from(zip(job["i"], job["j"]))
    graph = Graph.from_networkx(g)
    k, eps, seed = int(job["k"]), float(job["epsilon"]), int(job["seed"])
    target = sum(job["pop"]) / k
    t0 = time.perf_counter()
    try:
        seed_plan = recursive_tree_part(
            graph,
            range(k),
            target,
            "population",
            eps,
            bipartition_tree_fn=partial(bipartition_tree, max_attempts=int(job.get("max_attempts", 10_000))),
            rng=seed,
        )
    except Exception as exc:  # noqa: BLE001 - GerryChain raises RuntimeError/BalanceError when it gives up
        out = {"status": "no_plan", "seconds": time.perf_counter() - t0, "note": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out))
        return
    t_seed = time.perf_counter() - t0
    part = Partition(graph, seed_plan, updaters={"population": _population_updater()})
    chain = MarkovChain(
        proposal_fn=partial(recom, pop_col="population", pop_target=target, epsilon=eps, rng=seed),
        constraints=[within_percent_of_ideal_population(part, eps)],
        acceptance_fn=always_accept,
        initial_partition=part,
        total_steps=int(job["steps"]),
    )
    last = part
    for state in chain:
        last = state
    labels = [int(last.assignment[u]) for u in range(int(job["n"]))]
    note = f"seed plan {t_seed:.1f} s, then {job['steps']} ReCom steps"
    print(json.dumps({"status": "ok", "seconds": time.perf_counter() - t0, "labels": labels, "note": note}))


def _population_updater():
    from gerrychain.updaters import Tally

    return Tally("population", alias="population")


if __name__ == "__main__":
    main()
