"""Running cliptrail: embedded servers, bootstrap, `make run`, dev tokens, the manifests."""
