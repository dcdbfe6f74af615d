"""Adapters: printbridge's side of each outside system (Gelato, the store, SQL, Redis)."""
