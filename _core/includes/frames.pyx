cdef inline uint32_t _read_u32(const char *p) noexcept:
    cdef const unsigned char *u = <const unsigned char *>p
    return (<uint32_t>u[0] << 24) | (<uint32_t>u[1] << 16) | (<uint32_t>u[2] << 8) | <uint32_t>u[3]


cdef class FrameScanner:
    """Splits a byte stream into (header, payload) frames without decoding either.

    A malformed frame raises ValueError and stays buffered, with everything after
    the last feed() that succeeded: the stream has lost its framing, so every
    later feed() fails the same way.
    """

    def __cinit__(self, Py_ssize_t max_frame_bytes=64 * 1024 * 1024):
        self._start = 0
        self._end = 0
        self._cap = 0
        self.max_frame_bytes = max_frame_bytes

    def __dealloc__(self):
        PyMem_Free(self._buf)

    cdef Py_ssize_t _scan(self, const char *data, Py_ssize_t length, list frames) except -1:
        # Appends every complete frame in data[:length] and returns the bytes consumed,
        # or _BAD_FRAME, with the reason in _bad_*, at a malformed frame.
        cdef Py_ssize_t pos = 0
        cdef uint32_t total, head_len
        while length - pos >= 4:
            total = _read_u32(data + pos)
            # compared as int64: a limit of 2**32 or more, or a negative one, must not
            # be truncated to 32 bits
            if <int64_t>total > self.max_frame_bytes or total < 4:
                self._bad_header = False
                self._bad_value = total
                return _BAD_FRAME
            if length - pos - 4 < <Py_ssize_t>total:
                break
            head_len = _read_u32(data + pos + 4)
            if head_len > total - 4:
                self._bad_header = True
                self._bad_value = head_len
                return _BAD_FRAME
            frames.append((PyBytes_FromStringAndSize(data + pos + 8, head_len),
                           PyBytes_FromStringAndSize(data + pos + 8 + head_len, total - 4 - head_len)))
            pos += 4 + total
        return pos

    cdef int _bad_frame(self) except -1:
        if self._bad_header:
            raise ValueError(f"bad frame header length {self._bad_value}")
        raise ValueError(f"bad frame length {self._bad_value}")

    cdef int _append(self, const char *src, Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self._end + n, new_cap
        cdef char *grown
        if need > self._cap:
            if self._start:
                memmove(self._buf, self._buf + self._start, self._end - self._start)
                self._end -= self._start
                self._start = 0
                need = self._end + n
            if need > self._cap:
                new_cap = self._cap * 2 if self._cap else 65536
                while new_cap < need:
                    new_cap *= 2
                grown = <char *>PyMem_Realloc(self._buf, new_cap)
                if grown == NULL:
                    raise MemoryError()
                self._buf = grown
                self._cap = new_cap
        memcpy(self._buf + self._end, src, n)
        self._end += n
        return 0

    cpdef list feed(self, bytes data):
        cdef list frames = []
        cdef Py_ssize_t n = len(data), used
        cdef const char *src = PyBytes_AS_STRING(data)
        if self._start == self._end:
            # Fast path: nothing buffered, scan the caller's bytes in place.
            used = self._scan(src, n, frames)
            if used == n:
                return frames
            self._start = self._end = 0
            if used == _BAD_FRAME:
                self._append(src, n)  # all of it, as if it had been buffered first
                self._bad_frame()
            self._append(src + used, n - used)
            return frames
        self._append(src, n)
        used = self._scan(self._buf + self._start, self._end - self._start, frames)
        if used == _BAD_FRAME:
            self._bad_frame()
        self._start += used
        if self._start == self._end:
            self._start = self._end = 0
        return frames

    def pending(self):
        return self._end - self._start
