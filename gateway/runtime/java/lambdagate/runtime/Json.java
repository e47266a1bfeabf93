package lambdagate.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Minimal JSON for typed handlers (there is no Jackson here): parse to Map/List/String/
 * Number/Boolean/null, convert to a handler's parameter type, write results. Beans are read
 * through setters or fields and written through getters, null properties left out, as the
 * Jackson-based serializer of AWS's Java runtime does.
 */
final class Json {
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    static Object parse(String text) {
        Json p = new Json(text);
        p.ws();
        Object value = p.value();
        p.ws();
        if (p.i != text.length()) {
            throw p.error("Unexpected character");
        }
        return value;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at offset " + i + " of the JSON input");
    }

    private void ws() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private Object value() {
        if (i >= s.length()) {
            throw error("Unexpected end");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{': {
                i++;
                Map<String, Object> map = new LinkedHashMap<>();
                ws();
                if (peek('}')) {
                    return map;
                }
                do {
                    ws();
                    if (i >= s.length() || s.charAt(i) != '"') {
                        throw error("Expected a property name");
                    }
                    String key = string();
                    ws();
                    expect(':');
                    ws();
                    map.put(key, value());
                    ws();
                } while (peek(','));
                expect('}');
                return map;
            }
            case '[': {
                i++;
                List<Object> list = new ArrayList<>();
                ws();
                if (peek(']')) {
                    return list;
                }
                do {
                    ws();
                    list.add(value());
                    ws();
                } while (peek(','));
                expect(']');
                return list;
            }
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private boolean peek(char c) {
        if (i < s.length() && s.charAt(i) == c) {
            i++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw error("Expected '" + c + "'");
        }
    }

    private Object literal(String word, Object value) {
        if (!s.startsWith(word, i)) {
            throw error("Unexpected token");
        }
        i += word.length();
        return value;
    }

    private String string() {
        i++;
        StringBuilder b = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw error("Unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(i++);
            switch (e) {
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                    break;
                default: b.append(e);
            }
        }
    }

    private Object number() {
        int start = i;
        boolean real = false;
        while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
            real |= ".eE".indexOf(s.charAt(i)) >= 0;
            i++;
        }
        if (start == i) {
            throw error("Unexpected character '" + s.charAt(i) + "'");
        }
        String text = s.substring(start, i);
        if (real) {
            return Double.valueOf(text);
        }
        BigInteger big = new BigInteger(text);
        if (big.bitLength() < 32) {
            return big.intValue();
        }
        return big.bitLength() < 64 ? (Object) big.longValue() : big;
    }

    // ------------------------------------------------------------------ writing

    static String write(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value);
        return b.toString();
    }

    static void quote(StringBuilder b, String str) {
        b.append('"');
        for (int k = 0; k < str.length(); k++) {
            char c = str.charAt(k);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }

    private static void write(StringBuilder b, Object v) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum) {
            quote(b, v instanceof Enum ? ((Enum<?>) v).name() : v.toString());
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            b.append(Double.isNaN(d) || Double.isInfinite(d) ? "null" : v.toString());
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof Iterable) {
            b.append('[');
            boolean first = true;
            for (Object item : (Iterable<?>) v) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, item);
            }
            b.append(']');
        } else if (v instanceof byte[]) {
            quote(b, Base64.getEncoder().encodeToString((byte[]) v));
        } else if (v.getClass().isArray()) {
            b.append('[');
            for (int k = 0, n = Array.getLength(v); k < n; k++) {
                if (k > 0) {
                    b.append(',');
                }
                write(b, Array.get(v, k));
            }
            b.append(']');
        } else if (v instanceof Date) {
            b.append(((Date) v).getTime());
        } else if (v.getClass().getName().startsWith("java.")) {
            quote(b, v.toString());
        } else {
            writeBean(b, v);
        }
    }

    private static void writeBean(StringBuilder b, Object bean) {
        Map<String, Object> props = new LinkedHashMap<>();
        for (Method m : bean.getClass().getMethods()) {
            String name = m.getName();
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class) {
                continue;
            }
            String prop = null;
            if (name.startsWith("get") && name.length() > 3) {
                prop = name.substring(3);
            } else if (name.startsWith("is") && name.length() > 2
                    && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                prop = name.substring(2);
            }
            if (prop == null || m.getReturnType() == void.class) {
                continue;
            }
            try {
                props.putIfAbsent(decapitalize(prop), m.invoke(bean));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("Cannot read property " + prop, e.getCause() == null ? e : e.getCause());
            }
        }
        for (Field f : bean.getClass().getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !props.containsKey(f.getName())) {
                try {
                    props.put(f.getName(), f.get(bean));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        props.values().removeIf(x -> x == null);
        write(b, props);
    }

    /** Jackson's default naming: leading upper-case letters lower-cased (getURL -> url, getBody -> body). */
    private static String decapitalize(String name) {
        StringBuilder b = new StringBuilder(name);
        for (int k = 0; k < b.length() && Character.isUpperCase(b.charAt(k)); k++) {
            if (k > 0 && k + 1 < b.length() && !Character.isUpperCase(b.charAt(k + 1))) {
                break;
            }
            b.setCharAt(k, Character.toLowerCase(b.charAt(k)));
        }
        return b.toString();
    }

    // ------------------------------------------------------------------ converting parsed JSON to Java types

    static Object convert(Object json, Type type) throws ReflectiveOperationException {
        if (type instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) type;
            Class<?> raw = (Class<?>) pt.getRawType();
            Type[] args = pt.getActualTypeArguments();
            if (json == null) {
                return null;
            }
            if (Map.class.isAssignableFrom(raw) && json instanceof Map) {
                Map<Object, Object> out = newMap(raw);
                for (Map.Entry<?, ?> e : ((Map<?, ?>) json).entrySet()) {
                    out.put(convert(e.getKey(), args[0]), convert(e.getValue(), args[1]));
                }
                return out;
            }
            if (Collection.class.isAssignableFrom(raw) && json instanceof List) {
                Collection<Object> out = newCollection(raw);
                for (Object item : (List<?>) json) {
                    out.add(convert(item, args[0]));
                }
                return out;
            }
            return convert(json, raw);
        }
        if (type instanceof WildcardType) {
            return convert(json, ((WildcardType) type).getUpperBounds()[0]);
        }
        if (type instanceof TypeVariable) {
            return convert(json, ((TypeVariable<?>) type).getBounds()[0]);
        }
        if (type instanceof GenericArrayType) {
            return toArray(json, ((GenericArrayType) type).getGenericComponentType());
        }
        Class<?> c = (Class<?>) type;
        if (json == null) {
            return c.isPrimitive() ? Array.get(Array.newInstance(c, 1), 0) : null;
        }
        if (c == Object.class || c.isInstance(json) && !(json instanceof Map) && !(json instanceof List)) {
            return json;
        }
        if (c == String.class || c == CharSequence.class) {
            if (json instanceof Map || json instanceof List) {
                throw mismatch(json, c);
            }
            return json.toString();
        }
        if (c == byte[].class && json instanceof String) {
            return Base64.getDecoder().decode((String) json);
        }
        if (c.isArray()) {
            return toArray(json, c.getComponentType());
        }
        if (c == boolean.class || c == Boolean.class) {
            return json instanceof Boolean ? json : Boolean.valueOf(json.toString());
        }
        if (c == char.class || c == Character.class) {
            return json.toString().charAt(0);
        }
        if (c.isPrimitive() || Number.class.isAssignableFrom(c)) {
            return toNumber(json, c);
        }
        if (c.isEnum()) {
            for (Object constant : c.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals(json.toString())) {
                    return constant;
                }
            }
            throw mismatch(json, c);
        }
        if (c == Date.class && json instanceof Number) {
            return new Date(((Number) json).longValue());
        }
        if (Map.class.isAssignableFrom(c) && json instanceof Map) {
            Map<Object, Object> out = newMap(c);
            out.putAll((Map<?, ?>) json);
            return out;
        }
        if (Collection.class.isAssignableFrom(c) && json instanceof List) {
            Collection<Object> out = newCollection(c);
            out.addAll((List<?>) json);
            return out;
        }
        if (json instanceof Map && !c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
            return toBean((Map<?, ?>) json, c);
        }
        throw mismatch(json, c);
    }

    private static IllegalArgumentException mismatch(Object json, Class<?> c) {
        String kind = json instanceof Map ? "Object" : json instanceof List ? "Array" : json.getClass().getSimpleName();
        return new IllegalArgumentException("Cannot deserialize value of type `" + c.getName() + "` from " + kind + " value");
    }

    private static Object toNumber(Object json, Class<?> c) {
        BigDecimal d = json instanceof Number ? new BigDecimal(json.toString()) : new BigDecimal(json.toString().trim());
        if (c == int.class || c == Integer.class) {
            return d.intValue();
        } else if (c == long.class || c == Long.class) {
            return d.longValue();
        } else if (c == double.class || c == Double.class || c == Number.class) {
            return d.doubleValue();
        } else if (c == float.class || c == Float.class) {
            return d.floatValue();
        } else if (c == short.class || c == Short.class) {
            return d.shortValue();
        } else if (c == byte.class || c == Byte.class) {
            return d.byteValue();
        } else if (c == BigInteger.class) {
            return d.toBigInteger();
        }
        return d;
    }

    private static Object toArray(Object json, Type component) throws ReflectiveOperationException {
        if (!(json instanceof List)) {
            throw new IllegalArgumentException("Cannot deserialize an array from " + json.getClass().getSimpleName());
        }
        List<?> list = (List<?>) json;
        Class<?> raw = component instanceof ParameterizedType ? (Class<?>) ((ParameterizedType) component).getRawType()
                : component instanceof Class ? (Class<?>) component : Object.class;
        Object out = Array.newInstance(raw, list.size());
        for (int k = 0; k < list.size(); k++) {
            Array.set(out, k, convert(list.get(k), component));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> newMap(Class<?> c) throws ReflectiveOperationException {
        return c.isInterface() || Modifier.isAbstract(c.getModifiers()) ? new LinkedHashMap<>()
                : (Map<Object, Object>) c.getDeclaredConstructor().newInstance();
    }

    @SuppressWarnings("unchecked")
    private static Collection<Object> newCollection(Class<?> c) throws ReflectiveOperationException {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            return Set.class.isAssignableFrom(c) ? new LinkedHashSet<>() : new ArrayList<>();
        }
        return (Collection<Object>) c.getDeclaredConstructor().newInstance();
    }

    private static Object toBean(Map<?, ?> json, Class<?> c) throws ReflectiveOperationException {
        Constructor<?> ctor = c.getDeclaredConstructor();
        ctor.setAccessible(true);
        Object bean = ctor.newInstance();
        Method[] methods = c.getMethods();
        for (Map.Entry<?, ?> e : json.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (key.isEmpty()) {
                continue;
            }
            String setter = "set" + Character.toUpperCase(key.charAt(0)) + key.substring(1);
            Method target = null;
            for (Method m : methods) {
                if (m.getParameterCount() == 1 && !Modifier.isStatic(m.getModifiers())
                        && (m.getName().equals(setter) || target == null && m.getName().equalsIgnoreCase(setter))) {
                    target = m;
                }
            }
            if (target != null) {
                target.invoke(bean, convert(e.getValue(), target.getGenericParameterTypes()[0]));
                continue;
            }
            Field field = findField(c, key);
            if (field != null) {
                field.setAccessible(true);
                field.set(bean, convert(e.getValue(), field.getGenericType()));
            }
        }
        return bean;
    }

    private static Field findField(Class<?> c, String name) {
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Field f : k.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (f.getName().equals(name) && !Modifier.isStatic(mod) && !Modifier.isFinal(mod)) {
                    return f;
                }
            }
        }
        return null;
    }
}
