"""Make a TUF repository with python-tuf (an independent implementation) for Chains in Swift's TUF client.

usage: tuf_repo.py OUT TARGET_FILE [SCENARIO [NAME=FILE ...]]

Writes OUT/1.root.json (the root to pin) and OUT/repo/ (what the mirror serves), consistent snapshots:
root v1 → v2 → v3 (v3's root role has two keys, threshold 2), timestamp, snapshot, targets (threshold 2: an ECDSA
and an Ed25519 key), and TARGET_FILE as the target trusted_root.json.
SCENARIO: good (default); bad-rotation (a 4.root.json signed only by its own new key); expired-timestamp;
timestamp-v5 (timestamp version 5, for rollback checks); expired-root (every root expired);
timestamp-by-snapshot-key (the timestamp signed only by the key the root lists for snapshot);
snapshot-reformatted (the served snapshot is the same signed metadata in other bytes of the same length: its
signature holds, its hashes are not those the timestamp names); snapshot-length-only (the timestamp names the
snapshot's length and no hashes, and the served snapshot is written compactly).
NAME=FILE: more targets (a signing config: signing_config.v0.2.json=FILE).
"""
import datetime
import hashlib
import os
import sys

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import MetaFile, Metadata, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer


def main() -> None:
    out, target_path = sys.argv[1], sys.argv[2]
    scenario = sys.argv[3] if len(sys.argv) > 3 else "good"
    repo = os.path.join(out, "repo")
    os.makedirs(os.path.join(repo, "targets"), exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    future = now + datetime.timedelta(days=7)
    past = now - datetime.timedelta(days=1)
    ser = JSONSerializer(compact=False)

    def write(name: str, md: Metadata, where: str = repo) -> bytes:
        data = md.to_bytes(ser)
        with open(os.path.join(where, name), "wb") as f:
            f.write(data)
        return data

    keys = {n: CryptoSigner.generate_ecdsa() for n in ["root1", "root2", "root3", "root4", "ts", "snap", "tgt"]}
    tgt_ed = CryptoSigner.generate_ed25519()
    root = Root(expires=past if scenario == "expired-root" else future, consistent_snapshot=True)
    root.add_key(keys["root1"].public_key, "root")
    root.add_key(keys["ts"].public_key, "timestamp")
    root.add_key(keys["snap"].public_key, "snapshot")
    root.add_key(keys["tgt"].public_key, "targets")
    root.add_key(tgt_ed.public_key, "targets")
    root.roles["targets"].threshold = 2
    md = Metadata(root)
    md.sign(keys["root1"])
    write("1.root.json", md, out)
    write("1.root.json", md)

    # v2: the root key rotates from root1 to root2; signed by both (old threshold and new).
    root.revoke_key(keys["root1"].public_key.keyid, "root")
    root.add_key(keys["root2"].public_key, "root")
    root.version = 2
    md = Metadata(root)
    md.sign(keys["root1"])
    md.sign(keys["root2"], append=True)
    write("2.root.json", md)

    # v3: two root keys, threshold 2; v2's threshold (root2) and v3's (root2 + root3).
    root.add_key(keys["root3"].public_key, "root")
    root.roles["root"].threshold = 2
    root.version = 3
    md = Metadata(root)
    md.sign(keys["root2"])
    md.sign(keys["root3"], append=True)
    write("3.root.json", md)

    if scenario == "bad-rotation":
        root.revoke_key(keys["root2"].public_key.keyid, "root")
        root.revoke_key(keys["root3"].public_key.keyid, "root")
        root.add_key(keys["root4"].public_key, "root")
        root.roles["root"].threshold = 1
        root.version = 4
        md = Metadata(root)
        md.sign(keys["root4"])
        write("4.root.json", md)

    targets = Targets(expires=future)
    for name, path in [("trusted_root.json", target_path)] + [a.split("=", 1) for a in sys.argv[4:]]:
        data = open(path, "rb").read()
        targets.targets[name] = TargetFile.from_data(name, data, ["sha256", "sha512"])
        with open(os.path.join(repo, "targets", hashlib.sha256(data).hexdigest() + "." + name), "wb") as f:
            f.write(data)
    tmd = Metadata(targets)
    tmd.sign(keys["tgt"])
    tmd.sign(tgt_ed, append=True)
    tbytes = write("1.targets.json", tmd)

    snapshot = Snapshot(expires=future)
    snapshot.meta["targets.json"] = MetaFile(
        version=1, length=len(tbytes), hashes={"sha256": hashlib.sha256(tbytes).hexdigest()})
    smd = Metadata(snapshot)
    smd.sign(keys["snap"])
    sbytes = write("1.snapshot.json", smd)
    # The same signed content in other bytes: the signature (over canonical JSON) still verifies.
    if scenario == "snapshot-reformatted":  # as long as the original: only the hashes tell
        served = sbytes.replace(b": ", b":", 1) + b" "
        assert served != sbytes and len(served) == len(sbytes)
    elif scenario == "snapshot-length-only":  # shorter, and the timestamp names no hashes: only the length tells
        served = smd.to_bytes(JSONSerializer(compact=True))
        assert len(served) != len(sbytes)
    else:
        served = sbytes
    with open(os.path.join(repo, "1.snapshot.json"), "wb") as f:
        f.write(served)

    timestamp = Timestamp(expires=past if scenario == "expired-timestamp" else future)
    timestamp.version = 5 if scenario == "timestamp-v5" else 1
    if scenario == "snapshot-length-only":
        timestamp.snapshot_meta = MetaFile(version=1, length=len(sbytes))
    else:
        timestamp.snapshot_meta = MetaFile(
            version=1, length=len(sbytes), hashes={"sha256": hashlib.sha256(sbytes).hexdigest()})
    tsmd = Metadata(timestamp)
    tsmd.sign(keys["snap"] if scenario == "timestamp-by-snapshot-key" else keys["ts"])
    write("timestamp.json", tsmd)


if __name__ == "__main__":
    main()
