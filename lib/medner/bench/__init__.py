"""Benchmarks: development tools that measure speed against a peer in the same run (``medner bench``,
``medner bench-embeddings``, ``make bench``) and how the study's steps grow with the corpus
(``medner bench-growth``, ``make bench-growth``); the study itself never imports them."""
