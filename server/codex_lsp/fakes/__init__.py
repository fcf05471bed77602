"""Test doubles that are real servers on loopback (used by tests, the offline demo and benchmarks)."""
