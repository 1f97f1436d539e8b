"""Verify a sigstore bundle offline with sigstore-python's API (independent of Chains in Swift).

usage: sigstore_verify.py TRUST_CONFIG BUNDLE IDENTITY ISSUER (ARTIFACT_FILE | sha256:HEX)

A message-signature bundle is checked against the artifact's bytes (verify_artifact); a DSSE bundle with
verify_dsse, after which the in-toto statement must name sha256:HEX among its subjects. The CLI does the same, but
its statement model requires subject names, which cosign v3's image statement does not carry.
Exit 0 and "OK" when every check passed; 1 and the reason otherwise.
"""
import json
import sys

from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier, policy


def main() -> int:
    trust_path, bundle_path, identity, issuer, artifact = sys.argv[1:6]
    trust = ClientTrustConfig.from_json(open(trust_path).read())
    verifier = Verifier(trusted_root=trust.trusted_root)
    bundle = Bundle.from_json(open(bundle_path, "rb").read())
    wanted = policy.Identity(identity=identity, issuer=issuer)
    try:
        if artifact.startswith("sha256:"):
            payload_type, payload = verifier.verify_dsse(bundle, wanted)
            statement = json.loads(payload)
            digests = [s.get("digest", {}).get("sha256") for s in statement.get("subject", [])]
            if artifact[len("sha256:"):] not in digests:
                print(f"FAIL: {artifact} is not a subject of the statement ({digests})", file=sys.stderr)
                return 1
            print(f"OK: {payload_type} {statement.get('predicateType')}")
        else:
            verifier.verify_artifact(open(artifact, "rb").read(), bundle, wanted)
            print(f"OK: {artifact}")
    except Exception as error:  # every verification failure is a plain exception here
        print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
