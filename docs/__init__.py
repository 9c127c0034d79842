"""The map for the next person: docs/architecture.md and the script that keeps its tables true."""
