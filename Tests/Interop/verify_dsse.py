"""Verify a DSSE envelope with securesystemslib, independently of Chains in Swift.

usage: verify_dsse.py PUBLIC_KEY_PEM ENVELOPE_JSON
Prints the payload's SHA-256 on success; exits 1 with the verifier's message otherwise.
"""
import copy
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

pub = load_pem_public_key(open(sys.argv[1], "rb").read())
envelope_json = json.load(open(sys.argv[2]))
if isinstance(pub, ec.EllipticCurvePublicKey):
    scheme = {256: "ecdsa-sha2-nistp256", 384: "ecdsa-sha2-nistp384", 521: "ecdsa-sha2-nistp521"}[pub.curve.key_size]
elif isinstance(pub, ed25519.Ed25519PublicKey):
    scheme = "ed25519"
elif isinstance(pub, rsa.RSAPublicKey):
    scheme = "rsa-pkcs1v15-sha256"
else:
    sys.exit("unsupported key type")

keyid = envelope_json["signatures"][0].get("keyid", "")
k = SSlibKey.from_crypto(pub, scheme=scheme)
key = SSlibKey(keyid, k.keytype, k.scheme, k.keyval)  # the keyid must equal the signature's keyid
try:
    env = Envelope.from_dict(copy.deepcopy(envelope_json))
    env.verify([key], threshold=1)
except Exception as e:  # noqa: BLE001 - report whatever the verifier says
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
print(hashlib.sha256(env.payload).hexdigest())
