"""Render: turns a stored source and its highlights into clips, thumbnails and highlights.json."""
