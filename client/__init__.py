"""`cliptrail`: the command line for people (projects, resumable uploads, status, clips)."""
