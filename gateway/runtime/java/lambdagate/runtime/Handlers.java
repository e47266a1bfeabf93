package lambdagate.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the function's handler from `_HANDLER` (`package.Class::method` or `package.Class`)
 * with the rules of AWS's Java runtime (HandlerInfo.java, EventHandlerLoader.java,
 * AWSLambda.findRequestHandler): which signatures are accepted, which overload wins, and which
 * failures are init errors (fatal) or are reported on every invocation instead.
 */
final class Handlers {
    private static final byte[] JSON_NULL = "null".getBytes(StandardCharsets.US_ASCII);

    /** One loaded handler: reads the event from `in`, writes the result to `out`. */
    interface Handler {
        void call(InputStream in, ByteArrayOutputStream out, Context context) throws Throwable;
    }

    private Handlers() {
    }

    private static Handler fault(UserFault f) {
        return (in, out, context) -> {
            throw f;
        };
    }

    /** The handler, or a handler that fails every invocation; throws a fatal UserFault for init errors. */
    static Handler load(String handler, ClassLoader loader) {
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String methodName = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return fault(UserFault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return fault(UserFault.classNotFound(e, className));
        } catch (NoClassDefFoundError e) {
            return fault(UserFault.initError(e, className));
        } catch (Throwable t) {
            throw UserFault.initError(t, className);
        }
        Handler h;
        if (methodName != null) {
            h = loadMethod(cls, methodName);
        } else if (RequestStreamHandler.class.isAssignableFrom(cls)) {
            h = streamHandlerClass(cls);
        } else if (RequestHandler.class.isAssignableFrom(cls)) {
            h = requestHandlerClass(cls);
        } else if (hasPublicMethod(cls, "handleRequest")) {
            // lambdagate extension: a class with a handleRequest method but none of the interfaces
            h = loadMethod(cls, "handleRequest");
        } else {
            h = fault(UserFault.of("Class does not implement an appropriate handler interface: " + cls.getName()));
        }
        return h;
    }

    private static boolean hasPublicMethod(Class<?> cls, String name) {
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name)) {
                return true;
            }
        }
        return false;
    }

    private static Object instantiate(Class<?> cls) throws Exception {
        Constructor<?> constructor;
        try {
            constructor = cls.getConstructor();
        } catch (NoSuchMethodException e) {
            if (cls.getEnclosingClass() != null && !Modifier.isStatic(cls.getModifiers())) {
                throw new Exception("Class " + cls.getName() + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + cls.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            // the constructor threw: an init error
            throw UserFault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }

    /** Construction problems: fatal faults end Init, the others fail each invocation. */
    private static Handler guarded(Builder builder) {
        try {
            return builder.build();
        } catch (UserFault f) {
            if (f.fatal) {
                throw f;
            }
            return fault(f);
        } catch (Throwable t) {
            return fault(UserFault.of(t, false));
        }
    }

    private interface Builder {
        Handler build() throws Throwable;
    }

    private static Handler streamHandlerClass(Class<?> cls) {
        return guarded(() -> {
            RequestStreamHandler h = (RequestStreamHandler) instantiate(cls);
            return h::handleRequest;
        });
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Handler requestHandlerClass(Class<?> cls) {
        Type[] types = findTypeArguments(cls, new HashMap<>(), RequestHandler.class);
        if (types == null) {
            return fault(UserFault.of("Class " + cls.getName()
                    + " does not implement RequestHandler with concrete type parameters"));
        }
        for (int i = 0; i < types.length; i++) {
            if (types[i] instanceof TypeVariable) {
                Type bound = ((TypeVariable<?>) types[i]).getBounds()[0];
                if (Object.class.equals(bound)) {
                    return fault(UserFault.of("Class " + cls.getName()
                            + " does not implement RequestHandler with concrete type parameters: parameter "
                            + types[i] + " has no upper bound."));
                }
                types[i] = bound;
            }
        }
        Type in = types[0];
        Type outType = isVoid(types[1]) ? null : types[1];
        return guarded(() -> {
            RequestHandler h = (RequestHandler) instantiate(cls);
            return (input, out, context) -> {
                Object event = readEvent(input, in);
                Object result = h.handleRequest(event, context);
                writeResult(out, outType, result);
            };
        });
    }

    /** The actual type arguments of `iface` as implemented by `type` (type variables resolved). */
    private static Type[] findTypeArguments(Type type, Map<TypeVariable<?>, Type> bindings, Class<?> iface) {
        Class<?> raw;
        Map<TypeVariable<?>, Type> own = new HashMap<>();
        if (type instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) type;
            raw = (Class<?>) pt.getRawType();
            TypeVariable<?>[] vars = raw.getTypeParameters();
            Type[] args = pt.getActualTypeArguments();
            for (int i = 0; i < vars.length && i < args.length; i++) {
                Type arg = args[i];
                own.put(vars[i], arg instanceof TypeVariable && bindings.containsKey(arg) ? bindings.get(arg) : arg);
            }
            if (raw == iface) {
                Type[] out = new Type[vars.length];
                for (int i = 0; i < vars.length; i++) {
                    out[i] = own.get(vars[i]);
                }
                return out;
            }
        } else if (type instanceof Class) {
            raw = (Class<?>) type;
            if (raw == iface) {
                return null; // raw type: no type arguments
            }
        } else {
            return null;
        }
        for (Type i : raw.getGenericInterfaces()) {
            Type[] found = findTypeArguments(i, own, iface);
            if (found != null) {
                return found;
            }
        }
        Type sup = raw.getGenericSuperclass();
        return sup == null ? null : findTypeArguments(sup, own, iface);
    }

    private static boolean isVoid(Type t) {
        return t == void.class || t == Void.class;
    }

    private static Object readEvent(InputStream input, Type type) {
        try {
            String text = new String(input.readAllBytes(), StandardCharsets.UTF_8);
            return Json.convert(Json.parse(text), type);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON parsing", UserFault.filterStackTrace(t));
        }
    }

    private static void writeResult(ByteArrayOutputStream out, Type type, Object result) {
        if (type == null) {
            out.write(JSON_NULL, 0, JSON_NULL.length);
            return;
        }
        try {
            byte[] bytes = Json.write(result).getBytes(StandardCharsets.UTF_8);
            out.write(bytes, 0, bytes.length);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON serialization of response", t);
        }
    }

    // ------------------------------------------------------------------ Class::method

    private static boolean isContext(Type t) {
        return Context.class.equals(t);
    }

    private static int weight(Method m) {
        Class<?>[] p = m.getParameterTypes();
        return p.length + (p.length > 0 && isContext(p[p.length - 1]) ? 1 : 0);
    }

    private static Handler loadMethod(Class<?> cls, String name) {
        List<Method> candidates = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name)) {
                candidates.add(m);
            }
        }
        // Non-bridge methods first, then longer signatures (a trailing Context counts double).
        candidates.sort((a, b) -> a.isBridge() != b.isBridge() ? (a.isBridge() ? 1 : -1)
                : Integer.compare(weight(b), weight(a)));
        for (Method m : candidates) {
            Handler h = fromOverload(cls, m);
            if (h != null) {
                return h;
            }
        }
        return fault(UserFault.of("No public method named " + name
                + " with appropriate method signature found on class " + cls.getName()));
    }

    private static Handler fromOverload(Class<?> cls, Method m) {
        Type[] p = m.getGenericParameterTypes();
        Type r = m.getGenericReturnType();
        if (p.length == 0) {
            return pojo(cls, m, null, r, false);
        }
        if (p.length == 1) {
            if (InputStream.class.equals(p[0])) {
                return stream(cls, m, true, false, false);
            } else if (OutputStream.class.equals(p[0])) {
                return stream(cls, m, false, true, false);
            } else if (isContext(p[0])) {
                return pojo(cls, m, null, r, true);
            }
            return pojo(cls, m, p[0], r, false);
        }
        if (p.length == 2) {
            if (OutputStream.class.equals(p[0])) {
                if (isContext(p[1])) {
                    return stream(cls, m, false, true, true);
                }
                System.err.println("Ignoring two-argument overload because first argument type is OutputStream and "
                        + "second argument type is not Context");
            } else if (isContext(p[0])) {
                System.err.println("Ignoring two-argument overload because first argument type is Context");
            } else if (InputStream.class.equals(p[0])) {
                if (OutputStream.class.equals(p[1])) {
                    return stream(cls, m, true, true, false);
                } else if (isContext(p[1])) {
                    return stream(cls, m, true, false, true);
                }
                System.err.println("Ignoring two-argument overload because second parameter type, "
                        + m.getParameterTypes()[1].getName() + ", is not OutputStream.");
            } else if (isContext(p[1])) {
                return pojo(cls, m, p[0], r, true);
            } else {
                System.err.println("Ignoring two-argument overload because second parameter type is not Context");
            }
            return null;
        }
        if (p.length == 3) {
            if (InputStream.class.equals(p[0]) && OutputStream.class.equals(p[1]) && isContext(p[2])) {
                return stream(cls, m, true, true, true);
            }
            System.err.println("Ignoring three-argument overload because argument signature is not "
                    + "(InputStream, OutputStream, Context");
            return null;
        }
        System.err.println("Ignoring an overload of method " + m.getName()
                + " because it has too many parameters: Expected at most 3, got " + p.length);
        return null;
    }

    private static Object target(Class<?> cls, Method m) throws Exception {
        return Modifier.isStatic(m.getModifiers()) ? null : instantiate(cls);
    }

    private static Object invoke(Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() != null ? e.getCause() : e;
        }
    }

    private static Handler pojo(Class<?> cls, Method m, Type in, Type out, boolean needsContext) {
        Type outType = isVoid(out) ? null : out;
        return guarded(() -> {
            Object target = target(cls, m);
            m.setAccessible(true);
            return (input, output, context) -> {
                Object[] args = new Object[(in != null ? 1 : 0) + (needsContext ? 1 : 0)];
                int i = 0;
                if (in != null) {
                    args[i++] = readEvent(input, in);
                }
                if (needsContext) {
                    args[i] = context;
                }
                writeResult(output, outType, invoke(m, target, args));
            };
        });
    }

    private static Handler stream(Class<?> cls, Method m, boolean needsIn, boolean needsOut, boolean needsContext) {
        return guarded(() -> {
            Object target = target(cls, m);
            m.setAccessible(true);
            return (input, output, context) -> {
                Object[] args = new Object[(needsIn ? 1 : 0) + (needsOut ? 1 : 0) + (needsContext ? 1 : 0)];
                int i = 0;
                if (needsIn) {
                    args[i++] = input;
                }
                if (needsOut) {
                    args[i++] = output;
                }
                if (needsContext) {
                    args[i] = context;
                }
                invoke(m, target, args);
            };
        });
    }
}
