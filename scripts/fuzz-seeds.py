#!/usr/bin/env python3
"""Writes the seed corpora in Fuzz/Corpus/<harness>/seed-* from the project's fixtures and from inputs made here with
the harnesses' fixed key (P-256, private scalar 0x07 * 32), so that the signature paths are reached with valid
signatures too. Deterministic: the same files every run (ECDSA signatures use RFC 6979 via a fixed k-free path is not
available in `cryptography`, so signed seeds differ per run; they are written only when missing).
usage: scripts/fuzz-seeds.py [--force]   (needs the test venv: cryptography, PyNaCl)"""
import base64, glob, hashlib, json, os, sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "Fuzz", "Corpus")
force = "--force" in sys.argv
key = ec.derive_private_key(int.from_bytes(b"\x07" * 32, "big"), ec.SECP256R1())
spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
log_id = hashlib.sha256(spki).digest()


def put(harness, name, data):
    d = os.path.join(corpus, harness)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "seed-" + name)
    if os.path.exists(p) and not force:
        return
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def sign(data):
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def pem(label, der):
    b = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(b[i : i + 64] for i in range(0, len(b), 64)) + f"\n-----END {label}-----\n"


def fixture_files(pattern):
    return sorted(glob.glob(os.path.join(root, pattern), recursive=True))


# Runs: the examples and the conformance-parity inputs, YAML and JSON.
for p in fixture_files("Examples/*.yaml") + fixture_files("Examples/cluster/*.yaml"):
    put("run-manifest", os.path.basename(p), open(p, "rb").read())
run_json = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "t", "namespace": "n", "uid": "u"},
            "status": {"results": [{"name": "IMAGE_URL", "value": "registry.example.com/app"},
                                   {"name": "IMAGE_DIGEST", "value": "sha256:" + "a" * 64},
                                   {"name": "app-ARTIFACT_OUTPUTS", "type": "object",
                                    "value": {"uri": "registry.example.com/app", "digest": "sha256:" + "b" * 64}}]}}
put("run-manifest", "taskrun.json", json.dumps(run_json))
put("run-manifest", "list.json", json.dumps({"kind": "List", "items": [run_json, run_json]}))
put("chains-config", "example.yaml", open(os.path.join(root, "Examples/chains-config.yaml"), "rb").read())
put("chains-config", "keyless.json", json.dumps({"kind": "ConfigMap", "data": {
    "artifacts.taskrun.format": "slsa/v1", "artifacts.taskrun.signer": "x509", "signers.x509.fulcio.enabled": "true",
    "transparency.enabled": "manual", "storage.oci.allowed-registries": "*.example.com,localhost:5000",
    "builddefinition.buildtype": "https://tekton.dev/chains/v2/slsa-tekton", "signers.x509.identity.token.file": "/t"}}))
put("chains-config", "bad.yaml", "data:\n  artifacts.oci.storage: gcs, oci\n  transparency.url: ':bad'\n")

# Credentials: config.json shapes, .dockercfg, helpers and stores, broken entries.
auth = base64.b64encode(b"user:secretpassword").decode()
put("docker-config", "auths.json", json.dumps({"auths": {"registry.example.com": {"auth": auth},
    "https://index.docker.io/v1/": {"username": "u", "password": "p"}, "*.example.com": {"identitytoken": "tok"}}}))
put("docker-config", "dockercfg.json", json.dumps({"registry.example.com": {"auth": auth, "email": "e"}}))
put("docker-config", "helpers.json", json.dumps({"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"},
    "auths": {"registry.example.com": {}}}))
put("docker-config", "broken.json", '{"auths": {"x": {"auth": "!!notbase64"}, "y": {"auth": "' +
    base64.b64encode(b"nocolon").decode() + '"}}}')

# Registry answers.
for i, h in enumerate(['Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
                       'Basic realm="Registry Realm"', 'Bearer realm="https://r/t",error="insufficient_scope",scope="repository:x:pull"\nBasic realm=x',
                       'Bearer realm="https://a/\\"q\\"", Basic realm="b"']):
    put("www-authenticate", f"{i}.txt", h)
for i, t in enumerate([{"token": "abc", "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"},
                       {"access_token": "abc", "refresh_token": "r", "expires_in": 1e308}, {"token": ""}, []]):
    put("token-response", f"{i}.json", json.dumps(t))
for i, r in enumerate(["registry.example.com:5000/team/app:v1", "busybox", "docker.io/library/busybox@sha256:" + "c" * 64,
                       "[::1]:5000/a/b:t@sha256:" + "d" * 64, "localhost/a", "Registry.Example.com/UP"]):
    put("image-reference", f"{i}.txt", r)
layer = {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": 10, "digest": "sha256:" + "e" * 64,
         "annotations": {"dev.cosignproject.cosign/signature": "MEUC"}}
put("oci-manifest", "manifest.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": "sha256:" + "4" * 64},
    "layers": [layer], "subject": layer}))
put("oci-manifest", "index.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [dict(layer, platform={"os": "linux", "architecture": "amd64"}, artifactType="x")]}))
put("oci-manifest", "docker.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": layer, "layers": []}))

# Signing: DSSE signed with the fixed key, keys in each encoding, cosign keys (small scrypt cost for speed).
payload = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x"}).encode()
ptype = "application/vnd.in-toto+json"
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
put("dsse-envelope", "valid.json", json.dumps({"payloadType": ptype, "payload": base64.b64encode(payload).decode(),
    "signatures": [{"keyid": "", "sig": base64.b64encode(sign(pae)).decode()}]}))
put("dsse-envelope", "unsigned.json", json.dumps({"payloadType": ptype, "payload": "", "signatures": []}))
put("dsse-envelope", "two.json", json.dumps({"payloadType": "x", "payload": "e30=", "signatures": [{"sig": "AA=="}, {"sig": ""}]}))
nopw = serialization.NoEncryption()
keys = {"p256": key, "p384": ec.derive_private_key(5, ec.SECP384R1()), "ed25519": ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)}
for name, k in keys.items():
    put("private-key-pem", f"{name}-pkcs8.pem", k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, nopw))
    put("private-key-pem", f"{name}-public.pem", k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
put("private-key-pem", "p256-sec1.pem", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, nopw))
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
if not os.path.exists(os.path.join(corpus, "private-key-pem", "seed-rsa-pkcs1.pem")) or force:
    put("private-key-pem", "rsa-pkcs1.pem", rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, nopw))
put("private-key-pem", "encrypted.pem", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(b"pw")))
import nacl.secret
for n in (16, 1024):
    salt, nonce = b"\x02" * 32, b"\x03" * 24
    box = nacl.secret.SecretBox(hashlib.scrypt(b"pw", salt=salt, n=n, r=8, p=1, dklen=32))
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, nopw)
    body = {"kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
            "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
            "ciphertext": base64.b64encode(box.encrypt(der, nonce).ciphertext).decode()}
    put("cosign-key", f"n{n}.key", pem("ENCRYPTED SIGSTORE PRIVATE KEY", json.dumps(body).encode()).encode() + b"\x00pw")
put("cosign-key", "bad-kdf.key", pem("ENCRYPTED COSIGN PRIVATE KEY", b'{"kdf":{"name":"pbkdf2"}}') + "\x00")

# Sigstore: a Rekor entry and a bundle signed by the fixed log key, the conformance bundles, a trusted root.
body = json.dumps({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
    "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
    "signature": {"content": base64.b64encode(sign(payload)).decode(),
                  "publicKey": {"content": base64.b64encode(pem("PUBLIC KEY", spki).encode()).decode()}}}}).encode()
b64body = base64.b64encode(body).decode()
leaf = hashlib.sha256(b"\x00" + body).digest()
integrated = 1767225600
set_sig = sign(canonical({"body": b64body, "integratedTime": integrated, "logID": log_id.hex(), "logIndex": 0}))
text = f"rekor.fuzz - 1\n1\n{base64.b64encode(leaf).decode()}\n"
checkpoint = text + "\n\u2014 rekor.fuzz " + base64.b64encode(log_id[:4] + sign(text.encode())).decode() + "\n"
entry = {"body": b64body, "integratedTime": integrated, "logID": log_id.hex(), "logIndex": 0,
         "verification": {"signedEntryTimestamp": base64.b64encode(set_sig).decode(),
                          "inclusionProof": {"logIndex": 0, "rootHash": leaf.hex(), "treeSize": 1, "hashes": [], "checkpoint": checkpoint}}}
put("rekor-entry", "valid.json", json.dumps({"24296fb24b8ad77a" + leaf.hex(): entry}))
put("rekor-entry", "checkpoint.txt", checkpoint)
put("rekor-entry", "no-proof.json", json.dumps({"x": dict(entry, verification={"signedEntryTimestamp": "AA=="})}))
tlog = {"logIndex": "0", "logId": {"keyId": base64.b64encode(log_id).decode()}, "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
        "integratedTime": str(integrated), "inclusionPromise": {"signedEntryTimestamp": base64.b64encode(set_sig).decode()},
        "inclusionProof": {"logIndex": "0", "rootHash": base64.b64encode(leaf).decode(), "treeSize": "1", "hashes": [],
                           "checkpoint": {"envelope": checkpoint}}, "canonicalizedBody": b64body}
put("sigstore-bundle", "valid.json", json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"hint": "fuzz"}, "tlogEntries": [tlog]},
    "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(hashlib.sha256(payload).digest()).decode()},
                         "signature": base64.b64encode(sign(payload)).decode()}}))
for p in fixture_files("Tests/SigstoreTests/Conformance/bundle-verify/*/bundle.sigstore.json")[:24]:
    put("sigstore-bundle", os.path.basename(os.path.dirname(p)) + ".json", open(p, "rb").read())
# RFC 3161 replies: the timestamps the conformance bundles carry (DER TimeStampResp), and a rejection.
for p in fixture_files("Tests/SigstoreTests/Conformance/bundle-verify/*/bundle.sigstore.json"):
    try:
        material = json.load(open(p)).get("verificationMaterial", {})
    except ValueError:  # some cases are malformed on purpose
        continue
    for i, t in enumerate(material.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])):
        put("rfc3161-response", f"{os.path.basename(os.path.dirname(p))}-{i}.der", base64.b64decode(t["signedTimestamp"]))
put("rfc3161-response", "rejection.der", bytes([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]))
# Rekor v2: the conformance suite's rekor2-* bundles (checkpoints signed by sigstore staging's logs, whose keys the
# harness trusts), and their bodies alone.
for p in fixture_files("Tests/SigstoreTests/Conformance/bundle-verify/rekor2-*/bundle.sigstore.json"):
    name = os.path.basename(os.path.dirname(p))
    put("rekor-v2-entry", name + ".json", open(p, "rb").read())
    try:
        for i, e in enumerate(json.load(open(p)).get("verificationMaterial", {}).get("tlogEntries", [])):
            put("rekor-v2-entry", f"{name}-body-{i}.json", base64.b64decode(e["canonicalizedBody"]))
    except (ValueError, KeyError):
        pass
for p in fixture_files("Tests/SigstoreTests/SigningConfigs/*.json"):
    put("signing-config", os.path.basename(p), open(p, "rb").read())
put("signing-config", "exact.json", json.dumps({"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "a"}],
    "rekorTlogUrls": [{"url": "https://a.example", "majorApiVersion": 2, "validFor": {"start": "2020-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "operator": "a"},
                      {"url": "https://b.example", "majorApiVersion": 2, "validFor": {"start": "2021-01-01T00:00:00Z"}, "operator": "b"}],
    "tsaUrls": [], "rekorTlogConfig": {"selector": "EXACT", "count": 2}, "tsaConfig": {"selector": "ALL"}}))
trusted = os.path.join(root, "Tests/SigstoreTests/Conformance/public-good-trusted_root.json")
put("trusted-root", "public-good.json", open(trusted, "rb").read())
tr = json.load(open(trusted))
put("trusted-root", "one-log.json", json.dumps(dict(tr, tlogs=tr["tlogs"][:1], certificateAuthorities=tr["certificateAuthorities"][:1])))
put("trusted-root", "empty.json", json.dumps({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}))
certs = [c["rawBytes"] for ca in tr["certificateAuthorities"] for c in ca["certChain"]["certificates"]]
chain = [pem("CERTIFICATE", base64.b64decode(c)) for c in certs[:2]]
put("fulcio-response", "v2.json", json.dumps({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}))
put("fulcio-response", "detached.json", json.dumps({"signedCertificateDetachedSct": {"chain": {"certificates": chain[:1]}, "signedCertificateTimestamp": "AA=="}}))
for p in fixture_files("Tests/SigstoreTests/Conformance/bundle-verify/*/bundle.sigstore.json")[:6]:
    try:
        b = json.load(open(p))
    except ValueError:
        continue
    vm = b.get("verificationMaterial", {})
    raw = (vm.get("certificate") or {}).get("rawBytes") or ((vm.get("x509CertificateChain") or {}).get("certificates") or [{}])[0].get("rawBytes")
    if raw:
        put("fulcio-response", "leaf-" + os.path.basename(os.path.dirname(p)) + ".json",
            json.dumps({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem("CERTIFICATE", base64.b64decode(raw))] + chain}}}))

# TUF: a root signed by the fixed key (threshold 1), a timestamp, and an unsigned one.
keyval = {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": pem("PUBLIC KEY", spki)}}
kid = hashlib.sha256(canonical(keyval)).hexdigest()
signed_root = {"_type": "root", "spec_version": "1.0", "version": 1, "expires": "2030-01-01T00:00:00Z", "consistent_snapshot": True,
               "keys": {kid: keyval}, "roles": {r: {"keyids": [kid], "threshold": 1} for r in ["root", "timestamp", "snapshot", "targets"]}}
put("tuf-metadata", "root.json", json.dumps({"signed": signed_root, "signatures": [{"keyid": kid, "sig": sign(canonical(signed_root)).hex()}]}))
ts = {"_type": "timestamp", "spec_version": "1.0", "version": 3, "expires": "2030-01-01T00:00:00Z", "meta": {"snapshot.json": {"version": 2, "length": 10, "hashes": {"sha256": "0" * 64}}}}
put("tuf-metadata", "timestamp.json", json.dumps({"signed": ts, "signatures": [{"keyid": kid, "sig": sign(canonical(ts)).hex()}]}))
put("tuf-metadata", "floats.json", '{"signed": {"_type": "targets", "version": 1.5, "expires": "x", "targets": {"a": {"length": -1}}}, "signatures": []}')

# Tokens and the cluster.
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
claims = {"iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:ns:sa", "aud": ["sigstore"], "exp": 4102444800, "iat": 1700000000}
jwt = b64u(b'{"alg":"ES256","kid":"k"}') + "." + b64u(json.dumps(claims).encode()) + "." + b64u(b"sig")
put("jwt", "sa-token.txt", jwt)
put("jwt", "spiffe.txt", b64u(b'{"alg":"ES256"}') + "." + b64u(json.dumps({"sub": "spiffe://example.org/ns/a/sa/b", "aud": "sigstore", "iss": "https://spire", "exp": 1}).encode()) + ".")
put("jwt", "email.txt", b64u(b'{"alg":"RS256"}') + "." + b64u(json.dumps({"iss": "https://accounts.google.com", "sub": "1", "email": "a@b", "email_verified": True, "aud": "sigstore"}).encode()) + ".x")

def field(number, data):  # protobuf length-delimited field
    n, out = len(data), b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            break
    return bytes([(number << 3) | 2]) + out + data
svid = field(1, b"spiffe://example.org/w") + field(2, jwt.encode()) + bytes([0x18, 0x80, 0x01])
put("jwt-svid", "one.bin", field(1, svid))
put("jwt-svid", "two.bin", field(1, svid) + field(1, field(2, b"x.y.z")))
put("jwt-svid", "empty.bin", field(1, b""))

events = [{"type": "ADDED", "object": run_json}, {"type": "MODIFIED", "object": dict(run_json, metadata={"name": "t", "annotations": {"chains.tekton.dev/signed": "true"}})},
          {"type": "BOOKMARK", "object": {"kind": "TaskRun", "metadata": {"resourceVersion": "12"}}},
          {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}},
          {"type": "DELETED", "object": {"kind": "Secret", "metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "e30="}}}]
put("watch-event", "stream.jsonl", "\n".join(json.dumps(e) for e in events) + "\n")
put("watch-event", "configmap.jsonl", json.dumps({"type": "MODIFIED", "object": {"kind": "ConfigMap", "metadata": {"name": "chains-config"}, "data": {"a": "b"}}}) + "\n")
put("watch-event", "garbage.jsonl", '{"type": "ADDED"}\nnot json\n{"type":"ADDED","object":[]}\n')
# Cloud answers, as the providers document them (and moto and the simulators send them).
sts = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
       "<Credentials><AccessKeyId>ASIAEXAMPLEEXAMPLE00</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
       "</SecretAccessKey><SessionToken>FwoGZXIvYXdzE&amp;session</SessionToken><Expiration>2026-12-02T16:00:00Z</Expiration>"
       "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")
put("cloud-response", "sts.xml", sts)
put("cloud-response", "sts-error.xml", "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>")
put("cloud-response", "ecr.json", json.dumps({"authorizationData": [{"authorizationToken": base64.b64encode(b"AWS:pass:word").decode(), "expiresAt": 1764720000.5, "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}))
put("cloud-response", "pod-identity.json", json.dumps({"AccessKeyId": "ASIAEXAMPLEEXAMPLE00", "SecretAccessKey": "secret-secret-secret", "Token": "token-token-token", "AccountId": "123456789012", "Expiration": "2026-12-02T16:00:00.123Z"}))
put("cloud-response", "gke-token.json", json.dumps({"access_token": "ya29.c.token", "expires_in": 3599, "token_type": "Bearer"}))
put("cloud-response", "kms-public-key.json", json.dumps({"KeyId": "arn:aws:kms:us-east-1:123456789012:key/k", "PublicKey": base64.b64encode(spki).decode(), "KeyUsage": "SIGN_VERIFY", "KeySpec": "ECC_NIST_P256", "SigningAlgorithms": ["ECDSA_SHA_256"]}))
put("cloud-response", "kmsref.txt", "awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
put("cloud-response", "ecr-host.txt", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com:443")
put("cloud-response", "resolve.txt", "[::1]:5000=::ffff:127.0.0.1")
put("cloud-response", "akv-key-ec.json", json.dumps({"key": {"kid": "https://chains.vault.azure.net/keys/signing/0f1e2d3c4b5a69788796a5b4c3d2e1f0", "kty": "EC-HSM", "crv": "P-256", "key_ops": ["sign", "verify"],
    "x": b64u(spki[-64:-32]), "y": b64u(spki[-32:])}, "attributes": {"enabled": True, "recoveryLevel": "Recoverable+Purgeable"}}))
put("cloud-response", "akv-key-rsa.json", json.dumps({"key": {"kid": "https://v.vault.azure.net/keys/k/1", "kty": "RSA", "n": b64u(b"\xc1" * 256), "e": "AQAB"}}))
put("cloud-response", "akv-kmsref.txt", "azurekms://chains.vault.azure.net:8443/signing-key/0f1e2d3c4b5a69788796a5b4c3d2e1f0")
put("cloud-response", "akv-challenge.txt", 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"')
print("seeds in", corpus)
