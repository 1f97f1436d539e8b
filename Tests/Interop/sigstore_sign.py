"""Sign a file with sigstore-python against the Fulcio and Rekor the trust config names (our simulators).

usage: sigstore_sign.py TRUST_CONFIG TOKEN_FILE ARTIFACT BUNDLE_OUT [--dsse]

sigstore-python is a real client: it asks Fulcio for a certificate (v2 API), checks its SCT against the trusted
root's CT logs, logs the signature in Rekor and checks what comes back, then writes a v0.3 bundle. With --dsse it
signs an in-toto statement naming ARTIFACT's SHA-256 instead of the file itself.
"""
import hashlib
import sys

from sigstore.dsse import StatementBuilder, Subject
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext


def main() -> int:
    trust_path, token_path, artifact, out = sys.argv[1:5]
    dsse = "--dsse" in sys.argv[5:]
    trust = ClientTrustConfig.from_json(open(trust_path).read())
    context = SigningContext.from_trust_config(trust)
    token = IdentityToken(open(token_path).read().strip())
    data = open(artifact, "rb").read()
    with context.signer(token, cache=True) as signer:
        if dsse:
            statement = (
                StatementBuilder()
                .subjects([Subject(name="artifact", digest={"sha256": hashlib.sha256(data).hexdigest()})])
                .predicate_type("https://slsa.dev/provenance/v1")
                .predicate({"buildDefinition": {}, "runDetails": {}})
                .build()
            )
            bundle = signer.sign_dsse(statement)
        else:
            bundle = signer.sign_artifact(data)
    open(out, "w").write(bundle.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
