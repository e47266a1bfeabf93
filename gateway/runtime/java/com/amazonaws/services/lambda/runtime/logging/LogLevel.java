/* API-compatible with aws-lambda-java-core's logging.LogLevel. */
package com.amazonaws.services.lambda.runtime.logging;

public enum LogLevel {
    // UNDEFINED: LambdaLogger.log(String) without a level; never filtered.
    UNDEFINED,
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL;

    public static LogLevel fromString(String logLevel) {
        try {
            return LogLevel.valueOf(logLevel.toUpperCase());
        } catch (Exception e) {
            throw new IllegalArgumentException(
                    "Invalid log level: '" + logLevel + "' expected one of [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
        }
    }
}
