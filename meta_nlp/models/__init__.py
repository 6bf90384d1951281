"""Encoder loading (any AutoModel; packaged MiniLM by default), pooling, per-episode heads."""
