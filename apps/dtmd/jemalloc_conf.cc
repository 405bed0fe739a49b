// jemalloc's options for dtmd, read by jemalloc at its start (the environment variable
// MALLOC_CONF, read after this, still overrides them). Compiled only when dtmd links jemalloc
// (LYNX_DTMD_ALLOCATOR).
//
// oversize_threshold: allocations of 1 MiB and more come from jemalloc's dedicated arena, whose
// freed pages go back to the system at once. dtmd's hot path never allocates that much; what
// does is a big request, a big stored row or a big reply (hostile input among them), and with
// the default (8 MiB) each thread's arena kept such memory for seconds: 40 slow readers of an
// 8 MB reply grew dtmd by 208 MB instead of ~50 MB (hostile_test).
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
const char* malloc_conf = "oversize_threshold:1048576";
}
