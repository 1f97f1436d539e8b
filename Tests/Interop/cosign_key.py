"""Make and open sigstore encrypted keys (`cosign generate-key-pair` format) with PyNaCl + hashlib.scrypt.

usage: cosign_key.py make OUT_DIR PASSWORD [p256|p384|ed25519]   writes cosign.key, cosign.pub, cosign.password
       cosign_key.py open KEY_FILE PASSWORD                      prints the public key PEM of the decrypted key
"""
import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def pem(label, der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def derive(password, salt, n, r, p):
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


if sys.argv[1] == "make":
    out, password = sys.argv[2], sys.argv[3].encode()
    kind = sys.argv[4] if len(sys.argv) > 4 else "p256"
    key = {"p256": lambda: ec.generate_private_key(ec.SECP256R1()), "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
           "ed25519": ed25519.Ed25519PrivateKey.generate}[kind]()
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    box = nacl.secret.SecretBox(derive(password, salt, 32768, 8, 1))
    sealed = box.encrypt(der, nonce)  # nonce || tag || ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed.ciphertext).decode(),  # tag || ciphertext, as Go's secretbox.Seal
    }
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "cosign.key"), "w").write(pem("ENCRYPTED SIGSTORE PRIVATE KEY", json.dumps(doc).encode()))
    open(os.path.join(out, "cosign.password"), "wb").write(password)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(os.path.join(out, "cosign.pub"), "wb").write(pub)
elif sys.argv[1] == "open":
    text = open(sys.argv[2]).read()
    body = "".join(l for l in text.splitlines() if not l.startswith("-----"))
    doc = json.loads(base64.b64decode(body))
    params = doc["kdf"]["params"]
    key = derive(sys.argv[3].encode(), base64.b64decode(doc["kdf"]["salt"]), params["N"], params["r"], params["p"])
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"]))
    private = serialization.load_der_private_key(der, password=None)
    sys.stdout.write(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
