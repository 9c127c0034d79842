"""Render's pure parts: clip plans, ffmpeg argument lists, log parsing, and its logic on fakes."""
