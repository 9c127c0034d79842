"""`make token USER=alice [ADMIN=1]`: print a dev JWT signed with AUTH_JWT_SECRET (or, unset,
with the secret `make run` generated under the data dir)."""

from __future__ import annotations

import argparse

from deploy.devsecret import with_jwt_secret
from libs.settings import Settings
from libs.storage.keys import is_valid_id
from libs.web.auth import issue_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("user", help="the user id (the token's sub)")
    parser.add_argument("--admin", action="store_true", help='add "role": "admin"')
    parser.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    args = parser.parse_args()
    if not is_valid_id(args.user):
        parser.error("the user id must match [A-Za-z0-9_-]{1,64}")
    secret = with_jwt_secret(Settings()).auth_jwt_secret.get_secret_value()
    print(issue_token(secret, args.user, admin=args.admin, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
