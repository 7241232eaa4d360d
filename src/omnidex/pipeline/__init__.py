"""Pipelines: a collection spec planned into extractors, and the runners that ingest with them."""
