"""Media: what a video file is (probe, limits), running ffmpeg (runner), and highlights."""
