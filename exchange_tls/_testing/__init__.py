"""Helpers for tests and benchmarks: generators of realistic evidence (files only)."""
