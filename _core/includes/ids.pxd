cdef class IdGenerator:
    cdef char _uuid[36]        # prefix filled once; the last 12 characters change
    cdef char _short[16]       # 7 fixed characters, 8 changing, then '='
    cdef uint64_t _counter

    cdef inline uint64_t _next(self) noexcept
    cpdef str next_id(self)
    cpdef str next_short_id(self)
