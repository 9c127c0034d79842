"""Render on real ffmpeg and real servers: encodes, the NATS pipeline, the user story."""
