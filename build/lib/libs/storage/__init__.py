"""Objects and their ledger: the key layout, the object and record stores, and their clients."""
