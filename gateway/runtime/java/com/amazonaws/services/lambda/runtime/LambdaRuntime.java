/* API-compatible with aws-lambda-java-core's LambdaRuntime. */
package com.amazonaws.services.lambda.runtime;

import java.io.IOException;

/** Access to the global Lambda logger (lambdagate's runtime installs it at start). */
public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    private static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            System.out.print(message);
        }

        public void log(byte[] message) {
            try {
                System.out.write(message);
            } catch (IOException e) {
                e.printStackTrace();
            }
        }
    };

    /** The global Lambda logger. */
    public static LambdaLogger getLogger() {
        return logger;
    }
}
