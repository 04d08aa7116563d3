"""Read side: SQLAlchemy tables rebuilt from the event log, each with its tracked position."""
