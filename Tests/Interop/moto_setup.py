"""Sets up moto's IAM for the cloud keychain tests: argv[1] is moto's endpoint; with "--user", an IAM user with an
access key too; with "--kms KEYSPEC" (ECC_NIST_P256, RSA_2048, …), a signing key aliased alias/chains. Prints {"role":
ARN[, "access_key", "secret_key"][, "key_id", "public_key" (PEM)]}. Every call here is one of moto's
unauthenticated set-up actions (INITIAL_NO_AUTH_ACTION_COUNT): 2 for the role, 3 more for the user, 3 for the key.
With "--dynamodb TABLE[:KEY]" (repeatable), a table keyed by KEY (default Name, a string): one action each.
"""
import json
import sys

import boto3
from cryptography.hazmat.primitives import serialization

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "kms:Sign", "kms:GetPublicKey",
                                                  "dynamodb:DescribeTable", "dynamodb:PutItem", "dynamodb:GetItem",
                                                  "dynamodb:Scan"],
                   "Resource": "*"}],
}


def main() -> None:
    endpoint = sys.argv[1]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIASETUPSETUPSETUP0",
              aws_secret_access_key="set-up")
    iam = boto3.client("iam", **kw)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/T"}}]}
    role = iam.create_role(RoleName="chains", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="chains", PolicyName="chains", PolicyDocument=json.dumps(POLICY))
    out = {"role": role}
    if "--user" in sys.argv:
        iam.create_user(UserName="chains")
        iam.put_user_policy(UserName="chains", PolicyName="chains", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="chains")["AccessKey"]
        out.update(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    if "--kms" in sys.argv:
        spec = sys.argv[sys.argv.index("--kms") + 1]
        kms = boto3.client("kms", **kw)
        key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/chains", TargetKeyId=key_id)
        der = kms.get_public_key(KeyId=key_id)["PublicKey"]
        pem = serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        out.update(key_id=key_id, public_key=pem)
    dynamodb = boto3.client("dynamodb", **kw)
    for i, arg in enumerate(sys.argv):
        if arg == "--dynamodb":
            table, _, key = sys.argv[i + 1].partition(":")
            key = key or "Name"
            dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                                  BillingMode="PAY_PER_REQUEST")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
