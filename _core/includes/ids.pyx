cdef const char *_HEX = b"0123456789abcdef"
cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
cdef uint64_t _MASK48 = (1ULL << 48) - 1


cdef class IdGenerator:
    """UUID-v4-shaped request ids, unique within the process and cheap to make.

    A random 80-bit prefix (from the seed the caller passes) plus a 48-bit counter
    scrambled by an odd multiplier, which is a bijection mod 2**48: no repeats for
    2**48 ids and no visible sequence.
    """

    def __cinit__(self, bytes seed):
        if len(seed) < 16:
            raise ValueError("seed must be at least 16 bytes")
        cdef str s = seed.hex()
        cdef str variant = "0123456789abcdef"[8 + (int(s[16], 16) & 3)]
        cdef bytes prefix = f"{s[0:8]}-{s[8:12]}-4{s[12:15]}-{variant}{s[15:18]}-".encode("ascii")
        memcpy(self._uuid, PyBytes_AS_STRING(prefix), 24)
        cdef const unsigned char *raw = <const unsigned char *>PyBytes_AS_STRING(seed)
        cdef int i
        for i in range(7):
            self._short[i] = _B64[raw[i] & 63]
        self._short[15] = b'='
        self._counter = int.from_bytes(seed[10:16], "big")

    cdef inline uint64_t _next(self) noexcept:
        self._counter = (self._counter + 1) & _MASK48
        return (self._counter * 0x9E3779B97F4BULL) & _MASK48

    cpdef str next_id(self):
        cdef uint64_t v = self._next()
        cdef int i
        for i in range(12):
            self._uuid[35 - i] = _HEX[(v >> (4 * i)) & 15]
        return self._uuid[:36].decode("ascii")

    cpdef str next_short_id(self):
        """A 16-character opaque id like API Gateway's `LV7fzho-PHcEJPw=`."""
        cdef uint64_t v = self._next()
        cdef int i
        for i in range(8):
            self._short[14 - i] = _B64[(v >> (6 * i)) & 63]
        return self._short[:16].decode("ascii")
