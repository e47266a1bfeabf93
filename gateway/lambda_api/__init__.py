"""The AWS Lambda API (rest-json `2015-03-31`) that boto3 and the AWS CLI call: the Invoke endpoint,
the control operations, the botocore operation model and AWS's error shapes."""
