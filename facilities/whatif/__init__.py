"""What-if scenarios (issue 17): named change sets over the current layers, every analysis run on them, compared.

- :mod:`.changes` — the JSON format of a scenario's changes, checked on its own and against the current data;
- :mod:`.view` — a read-only view of the store with the changes applied (layers, plan, norms, revisions);
- :mod:`.analyses` — coverage (with E2SFCA), the audit, shelter assignment and siting on a view, recomputing
  only what a change touches;
- :mod:`.compare` — two results side by side: summary table, difference tables per unit, community and shelter;
- :mod:`.report` — the comparison as XLSX (Chinese headers) and GeoJSON;
- :mod:`.service` — the store-facing functions the CLI, the API and the ``scenario_batch`` job call.
"""
