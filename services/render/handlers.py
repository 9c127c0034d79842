"""Render's NATS edges arrive with the render issue (see service.py)."""
