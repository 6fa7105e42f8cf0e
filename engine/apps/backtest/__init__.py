"""Backtest (docs/backtest.md): historical orders replayed under a ruleset, and against another.

Each order (an EvaluateRequest with its order time) is priced by `engine.pricing.quote.evaluate`
with EXPLAIN_OFF, the same engine as checkout. The modules, in the order the work flows:

- `orders`: JSON Lines or Parquet, cut into partitions a worker reads on its own (bad rows by row);
- `price`: the job (rules as source text, order time, budgets) and one partition priced into an
- `aggregate`: totals, per promotion, per shop, per day, the payable-change distribution and the
  orders that move most: values that merge (a monoid), the only thing that travels back;
- `run`: in this process, on every local core, or on a Dask cluster (engine/apps/cluster.py);
- `result`: the aggregate as one JSON value, money as decimal strings.
"""
