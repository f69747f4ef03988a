"""Performance and cost tooling behind ``python -m ecgrepro.perf <name>``."""
