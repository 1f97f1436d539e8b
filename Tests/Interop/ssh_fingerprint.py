"""Print the OpenSSH SHA256 fingerprint of a PEM public key (what `ssh-keygen -l` shows), via `cryptography`.

usage: ssh_fingerprint.py PUBLIC_KEY_PEM
"""
import base64
import hashlib
import sys

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

pub = load_pem_public_key(open(sys.argv[1], "rb").read())
wire = base64.b64decode(pub.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[1])
print("SHA256:" + base64.b64encode(hashlib.sha256(wire).digest()).decode().rstrip("="))
