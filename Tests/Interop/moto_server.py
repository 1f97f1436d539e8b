"""moto's server, with KMS Sign's MessageType=DIGEST as AWS documents it.

moto 5.2.1 ignores MessageType and hashes the message again, so a DIGEST request (what cosign and sigstore's KMS
clients send, and what we send for messages over 4096 bytes) gets a signature over SHA-256(digest). AWS's reference
(API_Sign): with DIGEST the Message is the digest, signed as it is. This wrapper signs it prehashed, checks the
digest's length as KMS does, and leaves everything else to moto. usage: moto_server.py [moto.server arguments]
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto import server
from moto.kms import responses
from moto.kms.exceptions import ValidationException

HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
original_sign = responses.KmsResponse.sign


def sign(self) -> str:
    if self._get_param("MessageType") != "DIGEST":
        return original_sign(self)
    key_id = self._get_param("KeyId")
    algorithm = self._get_param("SigningAlgorithm")
    message = self._get_param("Message")
    if isinstance(message, str):
        message = base64.b64decode(message)
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(key_id)
    digest = HASHES[algorithm[-3:]]
    if len(message) != digest.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
    private = key.private_key.private_key
    if algorithm.startswith("ECDSA"):
        signature = private.sign(message, ec.ECDSA(Prehashed(digest)))
    elif algorithm.startswith("RSASSA_PSS"):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        signature = private.sign(message, pss, Prehashed(digest))
    else:
        signature = private.sign(message, padding.PKCS1v15(), Prehashed(digest))
    return json.dumps({"KeyId": key.arn, "Signature": base64.b64encode(signature).decode(),
                       "SigningAlgorithm": algorithm})


responses.KmsResponse.sign = sign

if __name__ == "__main__":
    server.main(sys.argv[1:])
