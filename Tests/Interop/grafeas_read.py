"""Read a Grafeas project back with Google's grafeas client (REST), independently of Chains in Swift.

usage: grafeas_read.py BASE_URL TOKEN PROJECT
Prints {"notes": [...], "occurrences": [...]} as the client parses them (proto JSON, camelCase, enums by name).
"""
import json
import sys
from urllib.parse import urlparse

from google.oauth2.credentials import Credentials
from grafeas import grafeas_v1 as g
from grafeas.grafeas_v1.services.grafeas.transports import GrafeasRestTransport

url = urlparse(sys.argv[1])
client = g.GrafeasClient(transport=GrafeasRestTransport(
    host=url.netloc, url_scheme=url.scheme, credentials=Credentials(sys.argv[2])))
parent = "projects/" + sys.argv[3]
notes = [json.loads(g.Note.to_json(n, use_integers_for_enums=False)) for n in client.list_notes(parent=parent)]
occurrences = [json.loads(g.Occurrence.to_json(o, use_integers_for_enums=False)) for o in client.list_occurrences(parent=parent)]
print(json.dumps({"notes": notes, "occurrences": occurrences}))
