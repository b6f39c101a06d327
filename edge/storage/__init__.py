"""The durable store: the Store over sqlite-utils (alerts, the roster, counters, fixes,
the outbox, telemetry written in groups, the residents' activity and welfare state), its schema and migrations, checkpoints, and
the disk guard that keeps alerts going on a full or read-only disk (reserve file, copy
in memory).

May import: edge.domain/clock/errors and what they stand on.
"""
