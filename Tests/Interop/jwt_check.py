"""Verify a JWT with PyJWT, independently of Chains in Swift.

usage: jwt_check.py PUBLIC_KEY_PEM TOKEN AUDIENCE
Prints [header, claims] as JSON when the RS256/ES256 signature, audience and expiry check out; exits 1 otherwise.
"""
import json
import sys

import jwt

token = sys.argv[2]
claims = jwt.decode(token, open(sys.argv[1]).read(), algorithms=["RS256", "ES256"], audience=sys.argv[3])
print(json.dumps([jwt.get_unverified_header(token), claims]))
