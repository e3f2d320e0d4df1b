"""Training: typed configs (``config``), one explicit loop (``loop``), checkpoints, logging."""
