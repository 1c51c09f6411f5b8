"""cadenza: learn from music, compose with it, and say where every note came from."""

__version__ = "0.1.0"
