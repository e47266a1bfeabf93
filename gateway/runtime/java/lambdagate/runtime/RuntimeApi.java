package lambdagate.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The Runtime API client: HTTP/1.1 over one kept-alive socket, each request sent in a single
 * write (AWS's runtimes use a native client the same way). HttpURLConnection is avoided: it
 * loads more classes at start and probes a reused connection for 1 ms before POSTs.
 */
final class RuntimeApi {
    private static final String PREFIX = "/2018-06-01/runtime/";
    private final String host;
    private final int port;
    private final byte[] hostHeader;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    /** One invocation handed out by GET next. */
    static final class Invocation {
        String id;
        long deadlineMs;
        String arn;
        String traceId;
        String clientContext;
        String cognitoIdentity;
        String tenantId;
        byte[] body;
    }

    private static final class Response {
        int status;
        final Map<String, String> headers = new HashMap<>();
        byte[] body;
    }

    RuntimeApi(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        this.host = hostPort.substring(0, colon);
        this.port = Integer.parseInt(hostPort.substring(colon + 1));
        this.hostHeader = ("Host: " + hostPort + "\r\nUser-Agent: lambdagate-java\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    Invocation next() throws IOException {
        Response r = exchange("GET", PREFIX + "invocation/next", null, null);
        if (r.status != 200) {
            throw new IOException("GET " + PREFIX + "invocation/next answered " + r.status + ": "
                    + new String(r.body, StandardCharsets.UTF_8));
        }
        Invocation inv = new Invocation();
        inv.id = r.headers.get("lambda-runtime-aws-request-id");
        inv.deadlineMs = parseLong(r.headers.get("lambda-runtime-deadline-ms"));
        inv.arn = r.headers.get("lambda-runtime-invoked-function-arn");
        inv.traceId = r.headers.get("lambda-runtime-trace-id");
        inv.clientContext = r.headers.get("lambda-runtime-client-context");
        inv.cognitoIdentity = r.headers.get("lambda-runtime-cognito-identity");
        inv.tenantId = r.headers.get("lambda-runtime-aws-tenant-id");
        inv.body = r.body;
        return inv;
    }

    void respond(String requestId, byte[] body) throws IOException {
        exchange("POST", PREFIX + "invocation/" + requestId + "/response", body, null);
    }

    void error(String requestId, String body, String errorType) throws IOException {
        exchange("POST", PREFIX + "invocation/" + requestId + "/error", body.getBytes(StandardCharsets.UTF_8), errorType);
    }

    void initError(String body, String errorType) throws IOException {
        exchange("POST", PREFIX + "init/error", body.getBytes(StandardCharsets.UTF_8), errorType);
    }

    private Response exchange(String method, String path, byte[] body, String errorType) throws IOException {
        ByteArrayOutputStream req = new ByteArrayOutputStream(256 + (body == null ? 0 : body.length));
        StringBuilder head = new StringBuilder(128).append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
        if (body != null) {
            head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
        }
        if (errorType != null) {
            head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
        }
        req.write(head.toString().getBytes(StandardCharsets.UTF_8));
        req.write(hostHeader);
        req.write('\r');
        req.write('\n');
        if (body != null) {
            req.write(body);
        }
        boolean reused = socket != null;
        try {
            return send(req);
        } catch (IOException e) {
            close();
            if (!reused) {
                throw e;
            }
            return send(req); // the kept-alive connection was closed by the server: once more
        }
    }

    private Response send(ByteArrayOutputStream req) throws IOException {
        if (socket == null) {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
            in = new BufferedInputStream(socket.getInputStream(), 8192);
            out = socket.getOutputStream();
        }
        req.writeTo(out);
        out.flush();
        Response r = new Response();
        String status = readLine();
        int sp = status.indexOf(' ');
        r.status = Integer.parseInt(status.substring(sp + 1, sp + 4));
        for (String line = readLine(); !line.isEmpty(); line = readLine()) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                r.headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        String length = r.headers.get("content-length");
        if ("chunked".equalsIgnoreCase(r.headers.get("transfer-encoding"))) {
            r.body = readChunked();
        } else if (length != null) {
            r.body = in.readNBytes(Integer.parseInt(length));
        } else {
            r.body = in.readAllBytes();
            close();
        }
        if ("close".equalsIgnoreCase(r.headers.get("connection"))) {
            close();
        }
        return r;
    }

    private String readLine() throws IOException {
        StringBuilder b = new StringBuilder(64);
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new EOFException("the Runtime API closed the connection");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    private byte[] readChunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String size = readLine();
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
            if (n == 0) {
                while (!readLine().isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            body.write(in.readNBytes(n));
            readLine();
        }
    }

    private void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // already gone
            }
        }
        socket = null;
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
