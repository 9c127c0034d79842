"""Shared code of the services: settings, logging, errors, messaging, storage, web, media."""
