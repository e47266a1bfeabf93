cdef enum:
    _BAD_FRAME = -2     # _scan(): a malformed frame, described by _bad_header and _bad_value


cdef class FrameScanner:
    # Unconsumed bytes live in _buf[_start:_end].
    cdef char *_buf
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _cap
    cdef public Py_ssize_t max_frame_bytes
    cdef bint _bad_header
    cdef uint32_t _bad_value

    cdef Py_ssize_t _scan(self, const char *data, Py_ssize_t length, list frames) except -1
    cdef int _bad_frame(self) except -1
    cdef int _append(self, const char *src, Py_ssize_t n) except -1
    cpdef list feed(self, bytes data)
