"""Tracking: the only service touching MongoDB; the r2_file_paths ledger, cleanup and reconcile."""
