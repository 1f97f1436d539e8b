"""Read MongoDB documents back with pymongo, independently of Chains in Swift.

usage: mongo_read.py URL DATABASE COLLECTION
Prints every document of the collection as JSON {"<_id>": {"keys": [field names in order], "types": {field: BSON
type as pymongo decodes it}, "values": {field: value, bytes base64}}}.
"""
import base64
import json
import sys

import pymongo

client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=60000, connectTimeoutMS=60000, socketTimeoutMS=60000, directConnection=True)
out = {}


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


for document in client[sys.argv[2]][sys.argv[3]].find({}):
    out[str(document["_id"])] = {
        "keys": list(document.keys()),
        "types": {k: type(v).__name__ for k, v in document.items()},
        "values": plain(document),
    }
print(json.dumps(out, sort_keys=True))
