cdef class DeadlineHeap:
    """Deadlines keyed by a small non-negative integer token (0..MAX_TOKEN), earliest first.

    pop_expired() reports tokens by (deadline, token): ties go to the smaller token.
    """

    MAX_TOKEN = C_MAX_TOKEN

    def __cinit__(self):
        self._size = 0
        self._cap = 0
        self._pos_cap = 0

    def __dealloc__(self):
        PyMem_Free(self._deadline)
        PyMem_Free(self._token)
        PyMem_Free(self._pos)

    cdef int _reserve(self, int64_t token) except -1:
        cdef Py_ssize_t new_cap, i
        cdef void *grown
        if self._size == self._cap:
            new_cap = self._cap * 2 if self._cap else 64
            grown = PyMem_Realloc(self._deadline, new_cap * sizeof(int64_t))
            if grown == NULL:
                raise MemoryError()
            self._deadline = <int64_t *>grown
            grown = PyMem_Realloc(self._token, new_cap * sizeof(int64_t))
            if grown == NULL:
                raise MemoryError()
            self._token = <int64_t *>grown
            self._cap = new_cap
        # One unsigned compare on the hot path: a negative token wraps to a huge value.
        if <uint64_t>token >= <uint64_t>self._pos_cap:
            # The position table is indexed by token, so tokens are bounded: a huge one
            # would ask for a huge table (or overflow its size and corrupt the heap).
            if token < 0 or token > C_MAX_TOKEN:
                raise ValueError(f"token must be in 0..{C_MAX_TOKEN}, got {token}")
            new_cap = self._pos_cap * 2 if self._pos_cap else 64
            while new_cap <= token:
                new_cap *= 2
            grown = PyMem_Realloc(self._pos, new_cap * sizeof(Py_ssize_t))
            if grown == NULL:
                raise MemoryError()
            self._pos = <Py_ssize_t *>grown
            for i in range(self._pos_cap, new_cap):
                self._pos[i] = 0
            self._pos_cap = new_cap
        return 0

    cdef inline void _swap(self, Py_ssize_t a, Py_ssize_t b) noexcept:
        cdef int64_t d = self._deadline[a], t = self._token[a]
        self._deadline[a] = self._deadline[b]
        self._token[a] = self._token[b]
        self._deadline[b] = d
        self._token[b] = t
        self._pos[self._token[a]] = a + 1
        self._pos[self._token[b]] = b + 1

    cdef inline bint _before(self, Py_ssize_t a, Py_ssize_t b) noexcept:
        # Earlier deadline first; equal deadlines by token, so the order that
        # pop_expired() reports does not depend on the heap's shape.
        return self._deadline[a] < self._deadline[b] or (
            self._deadline[a] == self._deadline[b] and self._token[a] < self._token[b])

    cdef void _sift_up(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if not self._before(i, parent):
                break
            self._swap(i, parent)
            i = parent

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t child, n = self._size
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._before(child + 1, child):
                child += 1
            if not self._before(child, i):
                break
            self._swap(i, child)
            i = child

    cdef void _remove_at(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t last = self._size - 1
        self._pos[self._token[i]] = 0
        if i != last:
            self._deadline[i] = self._deadline[last]
            self._token[i] = self._token[last]
            self._pos[self._token[i]] = i + 1
        self._size = last
        if i < last:
            self._sift_down(i)
            self._sift_up(i)

    cpdef push(self, int64_t deadline_ns, int64_t token):
        self._reserve(token)
        if self._pos[token]:
            self._remove_at(self._pos[token] - 1)
        cdef Py_ssize_t i = self._size
        self._deadline[i] = deadline_ns
        self._token[i] = token
        self._pos[token] = i + 1
        self._size += 1
        self._sift_up(i)

    cpdef bint cancel(self, int64_t token):
        if token < 0 or token >= self._pos_cap or not self._pos[token]:
            return False
        self._remove_at(self._pos[token] - 1)
        return True

    cpdef int64_t next_deadline_ns(self):
        return self._deadline[0] if self._size else -1

    cpdef list pop_expired(self, int64_t now_ns):
        cdef list expired = []
        while self._size and self._deadline[0] <= now_ns:
            expired.append(self._token[0])
            self._remove_at(0)
        return expired

    def __len__(self):
        return self._size
