"""Helpers shared by tests and benchmarks (generated bad inputs, isolated runs)."""
