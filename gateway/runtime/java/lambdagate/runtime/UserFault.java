package lambdagate.runtime;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * A failure caused by the function's code or configuration, reported the way AWS's Java
 * runtime (aws-lambda-java-runtime-interface-client, UserFault.java) reports it: message and
 * exception class, no stack trace in the error body; `fatal` ones end the process.
 */
final class UserFault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String RUNTIME_PACKAGE = "lambdagate.runtime";

    final String msg;
    final String exception;
    final String trace;
    final boolean fatal;

    UserFault(String msg, String exception, String trace, boolean fatal) {
        super(msg, null, false, false);
        this.msg = msg;
        this.exception = exception;
        this.trace = trace;
        this.fatal = fatal;
    }

    static UserFault of(String msg) {
        return new UserFault(msg, null, null, false);
    }

    static UserFault of(Throwable t, boolean fatal) {
        String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        return new UserFault(msg, t.getClass().getName(), trace(t), fatal);
    }

    static UserFault initError(Throwable e, String className) {
        return new UserFault("Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                e.getClass().getName(), trace(e), true);
    }

    static UserFault classNotFound(Throwable e, String className) {
        return new UserFault("Class not found: " + className, e.getClass().getName(), trace(e), false);
    }

    static String trace(Throwable t) {
        filterStackTrace(t);
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    /** Cuts each stack trace (causes and suppressed too) where the runtime's own frames begin. */
    static <T extends Throwable> T filterStackTrace(T t) {
        filter(t, Collections.newSetFromMap(new IdentityHashMap<>()));
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] trace = t.getStackTrace();
        for (int i = 0; i < trace.length; i++) {
            if (trace[i].getClassName().startsWith(RUNTIME_PACKAGE)) {
                StackTraceElement[] kept = new StackTraceElement[i];
                System.arraycopy(trace, 0, kept, 0, i);
                t.setStackTrace(kept);
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed()) {
            filter(s, seen);
        }
    }

    /** The error body: {"errorMessage", "errorType"} (errorType left out when unknown). */
    String body() {
        StringBuilder b = new StringBuilder("{\"errorMessage\":");
        Json.quote(b, msg);
        if (exception != null) {
            b.append(",\"errorType\":");
            Json.quote(b, exception);
        }
        return b.append('}').toString();
    }

    /** The log text of AWS's runtime: "message: type\ntrace\n". */
    String reportable() {
        if (exception != null || trace != null) {
            return String.format("%s: %s\n%s\n", msg, exception == null ? "" : exception, trace == null ? "" : trace);
        }
        return msg + "\n";
    }
}
