"""AWS-facing pieces of lambdagate: the SAM template loader and its helpers."""
