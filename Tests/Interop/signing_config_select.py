"""What sigstore-python 4.5.1 selects from a signing config now: the Fulcio CA, the OIDC issuer, the transparency
logs and the timestamp authorities it would sign with, as JSON (or {"error": …} when it refuses the file). An
independent implementation of the selection rules to hold ours against; it reads `_fulcios`, `_oidcs`, `_tlogs` and
`_tsas`, the lists its constructor selects.

    python signing_config_select.py CONFIG.json [--tlog-version N]
"""
import json, sys
from pathlib import Path

from sigstore.models import SigningConfig, trustroot_v1

args = sys.argv[1:]
version = int(args[args.index("--tlog-version") + 1]) if "--tlog-version" in args else None
try:
    config = SigningConfig(trustroot_v1.SigningConfig.from_json(Path(args[0]).read_bytes()), tlog_version=version)
except Exception as error:  # a refusal is an answer too
    print(json.dumps({"error": str(error)}))
    sys.exit(0)
print(json.dumps({
    "caUrls": [s.url for s in config._fulcios],
    "oidcUrls": [s.url for s in config._oidcs],
    "rekorTlogUrls": [s.url for s in config._tlogs],
    "tsaUrls": [s.url for s in config._tsas],
}))
