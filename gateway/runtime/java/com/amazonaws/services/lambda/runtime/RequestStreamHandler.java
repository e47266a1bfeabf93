/* API-compatible with aws-lambda-java-core's RequestStreamHandler. */
package com.amazonaws.services.lambda.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Low-level handler: the event arrives as an input stream, the result is written to the output stream. */
public interface RequestStreamHandler {
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
