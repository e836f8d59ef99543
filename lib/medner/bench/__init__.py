"""Benchmarks: development tools that measure speed against a peer in the same run (``medner bench``,
``medner bench-embeddings``, ``make bench``); the study itself never imports them."""
