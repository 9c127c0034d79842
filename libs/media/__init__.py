"""Media: what a video file is (probing with the bundled ffmpeg) and the highlights asked of it."""
