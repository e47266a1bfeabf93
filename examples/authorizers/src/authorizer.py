"""A TOKEN authorizer: `allow-<user>` is let in, `deny-<user>` is refused with an explicit Deny; the
API's ValidationExpression turns anything else away before this function runs."""


def handler(event, context):
    verdict, _, user = event["authorizationToken"].partition("-")
    if verdict not in ("allow", "deny"):
        raise Exception("Unauthorized")     # API Gateway answers 401
    # arn:aws:execute-api:region:account:api-id/stage/VERB/path -> every method of this stage, so that
    # the cached policy also covers the other routes this authorizer guards
    api_arn, stage = event["methodArn"].split("/")[:2]
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if verdict == "allow" else "Deny",
                           "Resource": f"{api_arn}/{stage}/*"}],
        },
        "context": {"user": user, "tier": "gold", "verified": True},
    }
