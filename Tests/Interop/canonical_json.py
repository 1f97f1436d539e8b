"""Print securesystemslib's canonical JSON of the JSON on stdin (what TUF signs)."""
import json
import sys

from securesystemslib.formats import encode_canonical

sys.stdout.write(encode_canonical(json.load(sys.stdin)))
