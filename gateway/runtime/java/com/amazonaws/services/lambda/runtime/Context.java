/* API-compatible with aws-lambda-java-core's Context (lambdagate provides it: no jar is needed). */
package com.amazonaws.services.lambda.runtime;

/** The context object: information about the invocation, function and execution environment. */
public interface Context {

    /** The AWS request ID of this invocation (the same ID the invoker receives). */
    String getAwsRequestId();

    /** The CloudWatch log group of the function. */
    String getLogGroupName();

    /** The CloudWatch log stream of this execution environment. */
    String getLogStreamName();

    /** The name of the function. */
    String getFunctionName();

    /** The version of the function ($LATEST or a number). */
    String getFunctionVersion();

    /** The ARN used to invoke the function (may carry a version or alias). */
    String getInvokedFunctionArn();

    /** The Amazon Cognito identity of the caller, or null. */
    CognitoIdentity getIdentity();

    /** The client context sent by the invoker, or null. */
    ClientContext getClientContext();

    /** Milliseconds left before the invocation times out. */
    int getRemainingTimeInMillis();

    /** The function's configured memory, in MB. */
    int getMemoryLimitInMB();

    /** The Lambda logger. */
    LambdaLogger getLogger();

    /** The tenant ID of a tenant-isolated invocation, or null. */
    default String getTenantId() {
        return null;
    }

    /** The X-Ray trace header of this invocation, or null. */
    default String getXrayTraceId() {
        return null;
    }
}
