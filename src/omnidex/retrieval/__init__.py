"""Retrieval: fusion of ranked lists, snippets, and the hybrid (vector + BM25) search."""
