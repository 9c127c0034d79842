"""Storage: the only holder of R2 credentials; pushes work files, presigns, announces objects."""
