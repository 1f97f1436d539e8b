"""Verify a sigstore bundle signed with no transparency log (only RFC 3161 timestamps) with sigstore-python's own
checks, independent of Chains in Swift.

usage: tsa_only_verify.py TRUST_CONFIG BUNDLE IDENTITY ISSUER ARTIFACT_FILE

sigstore-python's Bundle type refuses a bundle without exactly one log entry, so its Verifier cannot be called whole.
This runs the steps of Verifier._verify_common_signing_cert that do not need a log entry, with sigstore-python's own
functions: each timestamp verified against the trusted root's timestamp authorities (_verify_signed_timestamp, with
rfc3161-client), the Fulcio chain validated at each timestamp's time (_verify_chain_at_time), the identity policy;
then the message signature over the artifact with the certificate's key (cryptography).
Exit 0 and "OK" when every check passed; 1 and the reason otherwise.
"""
import base64
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import decode_timestamp_response
from sigstore.models import ClientTrustConfig
from sigstore.verify import Verifier, policy


def main() -> int:
    trust_path, bundle_path, identity, issuer, artifact = sys.argv[1:6]
    trust = ClientTrustConfig.from_json(open(trust_path).read())
    verifier = Verifier(trusted_root=trust.trusted_root)
    bundle = json.load(open(bundle_path))
    material = bundle["verificationMaterial"]
    try:
        if material.get("tlogEntries"):
            raise ValueError("the bundle has log entries: use sigstore_verify.py")
        certificate = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
        signature = base64.b64decode(bundle["messageSignature"]["signature"])
        stamps = material.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])
        if not stamps:
            raise ValueError("the bundle has no RFC 3161 timestamp")
        for stamp in stamps:
            response = decode_timestamp_response(base64.b64decode(stamp["signedTimestamp"]))
            result = verifier._verify_signed_timestamp(response, signature)
            if result is None:
                raise ValueError("a timestamp does not verify against the trusted root's timestamp authorities")
            verifier._verify_chain_at_time(certificate, result)
        policy.Identity(identity=identity, issuer=issuer).verify(certificate)
        certificate.public_key().verify(signature, open(artifact, "rb").read(), ec.ECDSA(hashes.SHA256()))
    except Exception as error:  # every failure is a plain exception here
        print(f"FAIL: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"OK: {len(stamps)} timestamp(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
