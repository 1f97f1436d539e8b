"""Read a GCS bucket back with Google's own client (google-cloud-storage), independently of Chains in Swift.

usage: STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT gcs_read.py BUCKET [PREFIX]
Prints {"<object name>": "<base64 of its bytes>", ...} for every object under PREFIX, listed and downloaded by the
client (the emulator takes no credentials; the client is given anonymous ones, as for any emulator).
"""
import base64
import json
import sys

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

client = storage.Client(project="test", credentials=AnonymousCredentials())
bucket = client.bucket(sys.argv[1])
prefix = sys.argv[2] if len(sys.argv) > 2 else None
out = {}
for blob in client.list_blobs(bucket, prefix=prefix):
    out[blob.name] = base64.b64encode(blob.download_as_bytes()).decode()
print(json.dumps(out, sort_keys=True))
