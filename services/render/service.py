"""Render logic arrives with the render issue; until then render only starts and reports health.

Render deliberately creates no consumer yet: a durable consumer created later replays every
stored source from the start of the stream, so no source is skipped.
"""
