"""Check the MongoDB wire simulator with pymongo, the official driver: handshake, SCRAM-SHA-256, writes, reads, errors.

usage: mongo_check.py PORT USER PASSWORD UNICODE_USER UNICODE_PASSWORD [CA_FILE]
The simulator runs with both users in `admin` (and TLS with the CA's server certificate when CA_FILE is given).
Prints one line per check and exits 1 at the first that fails.
"""
import datetime
import sys

import bson
import pymongo
from bson.binary import Binary
from bson.int64 import Int64
from bson.objectid import ObjectId
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.operations import ReplaceOne

port, user, password, uuser, upassword = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ca = sys.argv[6] if len(sys.argv) > 6 else None
tls = {"tls": True, "tlsCAFile": ca} if ca else {}
checks = 0


def client(**kw):
    # Generous: the test suite runs everything at once on two cores, and the simulator shares them.
    options = dict(serverSelectionTimeoutMS=60000, connectTimeoutMS=60000, socketTimeoutMS=60000, directConnection=True, **tls)
    options.update(kw)
    return pymongo.MongoClient("127.0.0.1", port, **options)


def check(name, ok, detail=""):
    global checks
    if not ok:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    checks += 1
    print(f"ok {name}")


def fails(name, code, fn):
    try:
        fn()
    except OperationFailure as e:
        check(name, e.code == code, f"code {e.code}: {e}")
        return
    check(name, False, "no error")


good = client(username=user, password=password, authSource="admin", authMechanism="SCRAM-SHA-256")
check("ping", good.admin.command("ping")["ok"] == 1.0)
check("hello", good.admin.command("hello")["isWritablePrimary"] is True)
negotiated = client(username=user, password=password)  # mechanism from saslSupportedMechs
check("negotiated-scram", negotiated.admin.command("ping")["ok"] == 1.0)
coll = good["db"]["coll"]
doc = {
    "_id": "k1", "d": 1.5, "i": 7, "l": Int64(1 << 40), "b": Binary(b"\x00\x01\xff", 0), "t": True, "n": None,
    "a": [1, "x", {"y": 2.0}], "o": {"p": {"q": "r"}}, "when": datetime.datetime(2026, 12, 7, 23, 0, 0),
    "oid": ObjectId("0123456789abcdef01234567"), "s": "ünïcode ✓",
}
check("insert", coll.insert_one(doc).inserted_id == "k1")
got = coll.find_one({"_id": "k1"})
expected = bson.decode(bson.encode(doc))  # as pymongo itself decodes them (binary subtype 0 → bytes)
check("types-round-trip", got == expected and isinstance(got["l"], int) and got["b"] == b"\x00\x01\xff", repr(got))
check("field-order", list(got.keys()) == list(doc.keys()), repr(list(got.keys())))
try:
    coll.insert_one({"_id": "k1"})
    check("duplicate-key", False, "no error")
except DuplicateKeyError as e:
    check("duplicate-key", e.code == 11000)
auto = coll.insert_one({"v": 1}).inserted_id
check("generated-id", isinstance(auto, ObjectId) and coll.find_one({"_id": auto})["v"] == 1)
r = coll.replace_one({"_id": "k2"}, {"Name": "k2", "x": 1}, upsert=True)
check("replace-upsert", r.upserted_id == "k2" and r.matched_count == 0, repr(r.raw_result))
r = coll.replace_one({"_id": "k2"}, {"Name": "k2", "x": 2}, upsert=True)
check("replace-existing", r.matched_count == 1 and r.modified_count == 1 and r.upserted_id is None, repr(r.raw_result))
check("replaced", coll.find_one({"_id": "k2"}) == {"_id": "k2", "Name": "k2", "x": 2})
r = coll.update_one({"_id": "k2"}, {"$set": {"x": 3}})
check("update-set", r.modified_count == 1 and coll.find_one({"_id": "k2"})["x"] == 3)
# go-cloud's Put: an unordered BulkWrite of ReplaceOne(filter {_id}, upsert)
r = coll.bulk_write([ReplaceOne({"_id": "k3"}, {"Name": "k3"}, upsert=True),
                     ReplaceOne({"_id": "k2"}, {"Name": "k2"}, upsert=True)], ordered=False)
check("bulk-replace", r.upserted_count == 1 and r.matched_count == 1, repr(r.bulk_api_result))
found = sorted(d["_id"] for d in coll.find({"_id": {"$in": ["k1", "k3", "nope"]}}))
check("find-in", found == ["k1", "k3"], repr(found))
check("find-none", coll.find_one({"_id": "nope"}) is None)
check("delete", coll.delete_one({"_id": "k3"}).deleted_count == 1 and coll.find_one({"_id": "k3"}) is None)
fails("unknown-command", 59, lambda: good.db.command("noSuchCommand"))
fails("bad-password", 18, lambda: client(username=user, password=password + "x").admin.command("ping"))
fails("unknown-user", 18, lambda: client(username="nobody", password="x").admin.command("ping"))
fails("unauthenticated", 13, lambda: client()["db"]["coll"].insert_one({"x": 1}))
fails("unauthenticated-find", 13, lambda: client()["db"]["coll"].find_one({}))
unicode = client(username=uuser, password=upassword, authMechanism="SCRAM-SHA-256")
check("saslprep-password", unicode.admin.command("ping")["ok"] == 1.0 and unicode.db.coll.find_one({"_id": "k1"}) is not None)
print(f"{checks} checks passed")
