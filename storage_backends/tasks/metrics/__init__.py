"""Figures of the task backend for operators: queue depths, dead letters, and what the
workers ran (outcomes, run and wait times) and whether they are alive.

- `collector`: each worker counts its runs in memory (no call per task);
- `records`: the report document each worker writes, and its bounded reading;
- `store`: the reports' records, one per worker, in the results store's kind of store;
- `reporter`: the worker's thread writing its report every METRICS_INTERVAL seconds;
- `emf`: the CloudWatch embedded metric format lines a worker may log with each report;
- `figures`: what a reader gathers: SQS's queue counts and every worker's report;
- `exposition`: those figures in Prometheus's text format (`views.metrics_view`);
- `dashboard`: the same figures arranged for the admin's metrics page.

docs/tasks.md, "Metrics", says what each figure means and how to collect it.
"""
