cdef class DeadlineHeap:
    """Deadlines keyed by a small non-negative integer token, earliest first."""

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
        if token < 0:
            raise ValueError("token must be >= 0")
        if self._size == self._cap:
            new_cap = self._cap * 2 if self._cap else 64
            self._deadline = <int64_t *>PyMem_Realloc(self._deadline, new_cap * sizeof(int64_t))
            self._token = <int64_t *>PyMem_Realloc(self._token, new_cap * sizeof(int64_t))
            if self._deadline == NULL or self._token == NULL:
                raise MemoryError()
            self._cap = new_cap
        if token >= self._pos_cap:
            new_cap = self._pos_cap * 2 if self._pos_cap else 64
            while new_cap <= token:
                new_cap *= 2
            self._pos = <Py_ssize_t *>PyMem_Realloc(self._pos, new_cap * sizeof(Py_ssize_t))
            if self._pos == NULL:
                raise MemoryError()
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

    cdef void _sift_up(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if self._deadline[parent] <= self._deadline[i]:
                break
            self._swap(i, parent)
            i = parent

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef Py_ssize_t child, n = self._size
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._deadline[child + 1] < self._deadline[child]:
                child += 1
            if self._deadline[i] <= self._deadline[child]:
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
