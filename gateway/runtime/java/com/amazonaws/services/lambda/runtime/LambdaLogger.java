/* API-compatible with aws-lambda-java-core's LambdaLogger. */
package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/** A low-level logger writing to the function's log. */
public interface LambdaLogger {

    /** Logs a string (no newline is added). */
    void log(String message);

    /** Logs bytes as they are. */
    void log(byte[] message);

    /** Logs a string at a level (filtered by AWS_LAMBDA_LOG_LEVEL). */
    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    /** Logs bytes at a level (filtered by AWS_LAMBDA_LOG_LEVEL). */
    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
