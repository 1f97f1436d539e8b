"""Verify a raw signature with Python `cryptography` (simplesigning payloads are signed this way).

usage: verify_signature.py PUBLIC_KEY_PEM PAYLOAD_FILE SIGNATURE_FILE [sha256|sha384|sha512]
Exits 0 when the signature verifies, 1 otherwise.
"""
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

pub = load_pem_public_key(open(sys.argv[1], "rb").read())
payload = open(sys.argv[2], "rb").read()
signature = open(sys.argv[3], "rb").read()
algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
    sys.argv[4] if len(sys.argv) > 4 else "sha256"
]
try:
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, payload, ec.ECDSA(algorithm))
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(signature, payload)
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, payload, padding.PKCS1v15(), algorithm)
    else:
        sys.exit("unsupported key type")
except InvalidSignature:
    print("InvalidSignature", file=sys.stderr)
    sys.exit(1)
print("OK")
