"""Read DynamoDB items back with boto3, independently of Chains in Swift.

usage: AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… dynamodb_read.py ENDPOINT TABLE
Prints every item of TABLE (a Scan, then a consistent GetItem of each Name, as boto3's low-level client returns
them: attribute-value maps, binary values base64) as JSON {"<Name>": item}.
"""
import base64
import json
import sys

import boto3


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
out = {}
for item in client.scan(TableName=sys.argv[2])["Items"]:
    name = item["Name"]["S"]
    got = client.get_item(TableName=sys.argv[2], Key={"Name": {"S": name}}, ConsistentRead=True)["Item"]
    out[name] = plain(got)
print(json.dumps(out, sort_keys=True))
