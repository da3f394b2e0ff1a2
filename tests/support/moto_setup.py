"""Fills a fresh moto server for tests/ssm.rs, then turns its IAM checks on.

Run with the Python that carries moto (and so boto3): `python moto_setup.py ENDPOINT PASSPHRASE`.
While moto still accepts anything, it creates through boto3 (the real AWS SDK):

- IAM user `booter`, allowed ssm:GetParameter and secretsmanager:GetSecretValue;
- IAM user `stranger`, allowed only sts:GetCallerIdentity;
- role `boot-role` with the same policy as booter, assumed once (the temporary credentials an
  instance role hands out through IMDS);
- SecureString `/startup-bundle/pass` in us-east-1 and eu-central-1, `/startup-bundle/eu-only`
  in eu-central-1 only, a plain String `/startup-bundle/plain` in us-east-1;
- secret `startup-bundle/pass` (SecretString) and `startup-bundle/binary` (SecretBinary).

Then it posts 0 to /moto-api/reset-auth: from there on every request must carry a valid SigV4
signature of a known key, and IAM policies are enforced. Prints the keys as one JSON line.
"""

import json
import sys
import urllib.request

import boto3

ENDPOINT, PASSPHRASE = sys.argv[1], sys.argv[2]
# Any key works while authentication is still off.
SETUP_KEYS = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
READ_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "secretsmanager:GetSecretValue"],
                "Resource": "*",
            }
        ],
    }
)
IDENTITY_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def client(service, region="us-east-1"):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=region, **SETUP_KEYS)


def user(iam, name, policy):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


iam = client("iam")
out = {"booter": user(iam, "booter", READ_POLICY), "stranger": user(iam, "stranger", IDENTITY_ONLY)}
role = iam.create_role(RoleName="boot-role", AssumeRolePolicyDocument=TRUST)["Role"]
iam.put_role_policy(RoleName="boot-role", PolicyName="read", PolicyDocument=READ_POLICY)
creds = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="i-0123456789abcdef0")[
    "Credentials"
]
out["role"] = {
    "name": "boot-role",
    "id": creds["AccessKeyId"],
    "secret": creds["SecretAccessKey"],
    "token": creds["SessionToken"],
}

for region in ["us-east-1", "eu-central-1"]:
    client("ssm", region).put_parameter(
        Name="/startup-bundle/pass", Value=PASSPHRASE, Type="SecureString"
    )
client("ssm", "eu-central-1").put_parameter(
    Name="/startup-bundle/eu-only", Value=PASSPHRASE, Type="SecureString"
)
client("ssm").put_parameter(Name="/startup-bundle/plain", Value=PASSPHRASE, Type="String")
secrets = client("secretsmanager")
secrets.create_secret(Name="startup-bundle/pass", SecretString=PASSPHRASE)
secrets.create_secret(Name="startup-bundle/binary", SecretBinary=b"\x00\x01binary")

request = urllib.request.Request(
    ENDPOINT + "/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
)
urllib.request.urlopen(request).read()
print(json.dumps(out))
