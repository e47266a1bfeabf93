cdef class FrameScanner:
    # Unconsumed bytes live in _buf[_start:_end].
    cdef char *_buf
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _cap
    cdef public Py_ssize_t max_frame_bytes

    cdef Py_ssize_t _scan(self, const char *data, Py_ssize_t length, list frames) except -1
    cpdef list feed(self, bytes data)

