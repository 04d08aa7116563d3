"""The pure model of subventio: aggregates, values, rules and errors (stdlib + eventsourcing only)."""
