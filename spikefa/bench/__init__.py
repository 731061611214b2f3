"""Benchmarks (``spikefa bench TARGET``): each module prints ratios measured in one run.

A target module defines add_arguments(parser) (optional) and main(args) -> int.
"""
