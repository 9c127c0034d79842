"""The four services: ingest (HTTP API), storage (bucket), tracking (ledger), render (ffmpeg)."""
