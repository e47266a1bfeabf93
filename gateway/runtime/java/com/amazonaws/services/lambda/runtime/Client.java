/* API-compatible with aws-lambda-java-core's Client. */
package com.amazonaws.services.lambda.runtime;

/** The client application that invoked the function. */
public interface Client {
    default String getInstallationId() {
        return null;
    }

    String getAppTitle();

    String getAppVersionName();

    String getAppVersionCode();

    String getAppPackageName();
}
