cdef enum:
    C_MAX_TOKEN = (1 << 20) - 1   # tokens index a position table: 8 bytes per token


cdef class DeadlineHeap:
    # An indexed binary min-heap: parallel arrays of deadlines and tokens, plus
    # token -> heap position (+1; 0 = absent) so cancel() is O(log n).
    cdef int64_t *_deadline
    cdef int64_t *_token
    cdef Py_ssize_t *_pos
    cdef Py_ssize_t _size
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _pos_cap

    cdef int _reserve(self, int64_t token) except -1
    cdef bint _before(self, Py_ssize_t a, Py_ssize_t b) noexcept
    cdef void _swap(self, Py_ssize_t a, Py_ssize_t b) noexcept
    cdef void _sift_up(self, Py_ssize_t i) noexcept
    cdef void _sift_down(self, Py_ssize_t i) noexcept
    cdef void _remove_at(self, Py_ssize_t i) noexcept

    cpdef push(self, int64_t deadline_ns, int64_t token)
    cpdef bint cancel(self, int64_t token)
    cpdef int64_t next_deadline_ns(self)
    cpdef list pop_expired(self, int64_t now_ns)
