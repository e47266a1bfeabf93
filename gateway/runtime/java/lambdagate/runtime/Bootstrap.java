package lambdagate.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * lambdagate's Java runtime: a Lambda Runtime API (2018-06-01) client that runs handlers like
 * AWS's Java runtime (aws-lambda-java-runtime-interface-client, AWSLambda.java): load the
 * handler during Init (init errors go to /runtime/init/error, then exit 1), then loop on
 * next -> handler -> response | error. Java 11+ standard library only.
 */
public final class Bootstrap {
    private static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";

    private Bootstrap() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream stdout = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        System.setOut(stdout);
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        Logger logger = new Logger(stdout);
        Field field = LambdaRuntime.class.getDeclaredField("logger");
        field.setAccessible(true);
        field.set(null, logger);

        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (api == null || api.isEmpty()) {
            System.err.println("lambdagate java runtime: AWS_LAMBDA_RUNTIME_API is not set");
            System.exit(1);
        }
        RuntimeApi client = new RuntimeApi(api);
        String handlerName = args.length > 0 ? args[0] : System.getenv().getOrDefault("_HANDLER", "");

        Handlers.Handler handler = null;
        try {
            handler = Handlers.load(handlerName, Thread.currentThread().getContextClassLoader());
        } catch (UserFault fault) {
            logger.log(fault.reportable(), logger.json ? LogLevel.ERROR : LogLevel.UNDEFINED);
            client.initError(fault.body(), "Runtime.BadFunctionCode");
            System.exit(1);
        }
        loop(client, handler, logger);
    }

    private static void loop(RuntimeApi client, Handlers.Handler handler, Logger logger) throws IOException {
        ByteArrayOutputStream output = new ByteArrayOutputStream(1024);
        int memory = parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 128);
        while (true) {
            RuntimeApi.Invocation inv = client.next();
            if (inv.traceId != null) {
                System.setProperty(TRACE_PROPERTY, inv.traceId);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            output.reset();
            boolean exit = false;
            try {
                LambdaContext context = new LambdaContext(inv, memory, logger);
                logger.context = context;
                handler.call(new ByteArrayInputStream(inv.body), output, context);
                client.respond(inv.id, output.toByteArray());
                Thread.interrupted(); // a flag the handler left set must not break the next poll
            } catch (UserFault fault) {
                exit = fault.fatal;
                logger.log(fault.reportable(), logger.json ? LogLevel.ERROR : LogLevel.UNDEFINED);
                client.error(inv.id, fault.body(), "Runtime.BadFunctionCode");
            } catch (Throwable t) {
                exit = t instanceof VirtualMachineError || t instanceof IOError;
                UserFault.filterStackTrace(t);
                logger.log(UserFault.of(t, false).reportable(), logger.json ? LogLevel.ERROR : LogLevel.UNDEFINED);
                client.error(inv.id, errorBody(t), "Runtime.UserException");
            }
            if (exit) {
                System.exit(1);
            }
        }
    }

    /** {"errorMessage", "errorType", "stackTrace"} as AWS's LambdaErrorConverter.fromThrowable. */
    static String errorBody(Throwable t) {
        StringBuilder b = new StringBuilder("{\"errorMessage\":");
        Json.quote(b, t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage());
        b.append(",\"errorType\":");
        Json.quote(b, t.getClass().getName());
        b.append(",\"stackTrace\":[");
        StackTraceElement[] trace = t.getStackTrace();
        for (int i = 0; i < trace.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            Json.quote(b, trace[i].toString());
        }
        return b.append("]}").toString();
    }

    static int parseInt(String s, int fallback) {
        try {
            return Integer.parseInt(s.trim());
        } catch (RuntimeException e) {
            return fallback;
        }
    }

    // ------------------------------------------------------------------ logging

    /**
     * context.getLogger() / LambdaRuntime.getLogger(): text as is (with "[LEVEL] " when a level is
     * given), or one JSON object a line with AWS_LAMBDA_LOG_FORMAT=JSON; AWS_LAMBDA_LOG_LEVEL filters.
     */
    static final class Logger implements LambdaLogger {
        private static final DateTimeFormatter TIME =
                DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
        private final PrintStream out;
        private final LogLevel minimum;
        final boolean json;
        volatile LambdaContext context;

        Logger(PrintStream out) {
            this.out = out;
            this.json = "JSON".equalsIgnoreCase(System.getenv("AWS_LAMBDA_LOG_FORMAT"));
            LogLevel level = LogLevel.UNDEFINED;
            try {
                level = LogLevel.fromString(System.getenv().getOrDefault("AWS_LAMBDA_LOG_LEVEL", "UNDEFINED"));
            } catch (IllegalArgumentException e) {
                System.err.println(e.getMessage());
            }
            this.minimum = level;
        }

        private boolean enabled(LogLevel level) {
            return level == LogLevel.UNDEFINED || level.ordinal() >= minimum.ordinal();
        }

        @Override
        public void log(String message) {
            log(message, LogLevel.UNDEFINED);
        }

        @Override
        public void log(byte[] message) {
            log(message, LogLevel.UNDEFINED);
        }

        @Override
        public void log(String message, LogLevel level) {
            if (!enabled(level)) {
                return;
            }
            String text;
            if (json) {
                StringBuilder b = new StringBuilder("{\"timestamp\":\"").append(TIME.format(Instant.now())).append('"');
                b.append(",\"message\":");
                Json.quote(b, String.valueOf(message));
                b.append(",\"level\":\"").append(level.name()).append('"');
                LambdaContext c = context;
                if (c != null) {
                    b.append(",\"AWSRequestId\":");
                    Json.quote(b, c.getAwsRequestId());
                    if (c.getTenantId() != null) {
                        b.append(",\"tenantId\":");
                        Json.quote(b, c.getTenantId());
                    }
                }
                text = b.append("}\n").toString();
            } else {
                text = level == LogLevel.UNDEFINED ? String.valueOf(message) : "[" + level.name() + "] " + message;
            }
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            synchronized (out) {
                out.write(bytes, 0, bytes.length);
                out.flush();
            }
        }

        @Override
        public void log(byte[] message, LogLevel level) {
            if (enabled(level)) {
                synchronized (out) {
                    out.write(message, 0, message.length);
                    out.flush();
                }
            }
        }
    }

    // ------------------------------------------------------------------ context

    static final class LambdaContext implements Context {
        private final RuntimeApi.Invocation inv;
        private final int memory;
        private final LambdaLogger logger;
        private final CognitoIdentity identity;
        private final ClientContext clientContext;

        LambdaContext(RuntimeApi.Invocation inv, int memory, LambdaLogger logger) {
            this.inv = inv;
            this.memory = memory;
            this.logger = logger;
            this.identity = inv.cognitoIdentity == null || inv.cognitoIdentity.isEmpty() ? null
                    : cognito(objectOf(inv.cognitoIdentity));
            this.clientContext = inv.clientContext == null || inv.clientContext.isEmpty() ? null
                    : clientContext(objectOf(inv.clientContext));
        }

        private static Map<?, ?> objectOf(String json) {
            Object parsed = Json.parse(json);
            return parsed instanceof Map ? (Map<?, ?>) parsed : Collections.emptyMap();
        }

        private static String str(Object o) {
            return o == null ? null : o instanceof String ? (String) o : Json.write(o);
        }

        private static Map<String, String> strings(Object o) {
            if (!(o instanceof Map)) {
                return null;
            }
            Map<String, String> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                out.put(String.valueOf(e.getKey()), str(e.getValue()));
            }
            return out;
        }

        private static CognitoIdentity cognito(Map<?, ?> m) {
            String id = str(m.get("cognitoIdentityId"));
            String pool = str(m.get("cognitoIdentityPoolId"));
            return new CognitoIdentity() {
                public String getIdentityId() {
                    return id;
                }

                public String getIdentityPoolId() {
                    return pool;
                }
            };
        }

        private static ClientContext clientContext(Map<?, ?> m) {
            Map<?, ?> c = m.get("client") instanceof Map ? (Map<?, ?>) m.get("client") : null;
            Client client = c == null ? null : new Client() {
                public String getInstallationId() {
                    return str(c.get("installation_id"));
                }

                public String getAppTitle() {
                    return str(c.get("app_title"));
                }

                public String getAppVersionName() {
                    return str(c.get("app_version_name"));
                }

                public String getAppVersionCode() {
                    return str(c.get("app_version_code"));
                }

                public String getAppPackageName() {
                    return str(c.get("app_package_name"));
                }
            };
            Map<String, String> custom = strings(m.get("custom"));
            Map<String, String> env = strings(m.get("env"));
            return new ClientContext() {
                public Client getClient() {
                    return client;
                }

                public Map<String, String> getCustom() {
                    return custom;
                }

                public Map<String, String> getEnvironment() {
                    return env;
                }
            };
        }

        public String getAwsRequestId() {
            return inv.id;
        }

        public String getLogGroupName() {
            return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
        }

        public String getLogStreamName() {
            return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
        }

        public String getFunctionName() {
            return System.getenv("AWS_LAMBDA_FUNCTION_NAME");
        }

        public String getFunctionVersion() {
            return System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
        }

        public String getInvokedFunctionArn() {
            return inv.arn;
        }

        public CognitoIdentity getIdentity() {
            return identity;
        }

        public ClientContext getClientContext() {
            return clientContext;
        }

        public int getRemainingTimeInMillis() {
            int delta = (int) (inv.deadlineMs - System.currentTimeMillis());
            return delta > 0 ? delta : 0;
        }

        public int getMemoryLimitInMB() {
            return memory;
        }

        public LambdaLogger getLogger() {
            return logger;
        }

        public String getTenantId() {
            return inv.tenantId;
        }

        public String getXrayTraceId() {
            return inv.traceId;
        }
    }
}
