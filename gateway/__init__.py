"""lambdagate: AWS Lambda and Amazon API Gateway on your own machine, from a SAM template."""
__version__ = "0.1.0"
