"""Running a service: opening the real adapters and mounting its edge into the app."""
