"""Signs a request with botocore's SigV4Auth (the AWS SDK for Python's signer), as a reference for our SigV4.

stdin: {"method", "url", "headers": [[name, value]...], "body" (base64), "service", "region", "access_key",
"secret_key", "token" (or null), "time" ("YYYYMMDDTHHMMSSZ")}. stdout: {"Authorization", "X-Amz-Date",
"X-Amz-Security-Token"} as botocore set them.
"""
import base64
import datetime
import json
import sys
from unittest import mock

from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main() -> None:
    spec = json.load(sys.stdin)
    request = AWSRequest(
        method=spec["method"], url=spec["url"], headers=dict(spec["headers"]), data=base64.b64decode(spec["body"]))
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    when = datetime.datetime.strptime(spec["time"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    with mock.patch.object(auth, "get_current_datetime", return_value=when):
        auth.SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
    out = {k: request.headers.get(k) for k in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
