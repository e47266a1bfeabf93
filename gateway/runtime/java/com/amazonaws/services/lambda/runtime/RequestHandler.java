/* API-compatible with aws-lambda-java-core's RequestHandler. */
package com.amazonaws.services.lambda.runtime;

/**
 * Handler of typed events: lambdagate converts the JSON event to I and the result to JSON
 * (maps, lists, strings, numbers, booleans, arrays, enums and beans with setters/getters).
 */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
