"""Resolve a mongodb+srv:// string as pymongo does (dnspython, its seed-list rules), through the DNS server on PORT.

usage: mongo_srv_check.py PORT URI
Prints JSON {"nodelist": [[host, port], …], "options": {…}} or {"error": "…"} when pymongo refuses the seed list.
"""
import json
import sys

import dns.resolver
import pymongo.uri_parser
from pymongo.errors import ConfigurationError

resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(sys.argv[1])
resolver.lifetime = 60
dns.resolver.default_resolver = resolver
try:
    parsed = pymongo.uri_parser.parse_uri(sys.argv[2], connect_timeout=60)
    options = {k: v for k, v in parsed["options"].items() if k in ("authSource", "authsource", "replicaSet", "replicaset", "tls", "ssl")}
    print(json.dumps({"nodelist": sorted([list(n) for n in parsed["nodelist"]]), "options": {k.lower(): v for k, v in options.items()}}))
except ConfigurationError as e:
    print(json.dumps({"error": str(e)}))
