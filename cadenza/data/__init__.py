"""Corpora: sources, cleaning, labels, splits, tokens, shards and the manifest."""
