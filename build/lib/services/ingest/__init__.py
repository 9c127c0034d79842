"""Ingest: the HTTP API for projects, uploads and clips; it asks storage and tracking over NATS."""
