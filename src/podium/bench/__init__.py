"""Benchmarks behind `podium bench`: they print figures; they never assert."""
