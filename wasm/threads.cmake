# threads.cmake - the multi-threaded module: the same core and bs_wasm.c,
# built by Emscripten with -pthread and the pthread pool (core/src/pool.c),
# included by CMakeLists.txt when the toolchain is Emscripten's.
#
# Why Emscripten and not clang + wasi-libc as for the reactor: wasi-libc
# (2022) has no threads, and a shared memory needs every object, libc's
# malloc included, compiled with atomics. Emscripten's libc is, and its glue
# starts the workers (Web Workers, or worker_threads in Node), hands each
# the module and the shared memory, and runs pthread_create on them.
#
# Products (each a JS glue file, its .wasm and its pthread worker script):
#   bitstack-threads.mjs        browsers: an ES module (MODULARIZE,
#                               EXPORT_ES6), environments web and worker
#                               (pages and Web Workers)
#   node/bitstack-threads.js    Node: CommonJS (Emscripten 3.1.6's ES glue
#                               uses require and __dirname under Node),
#                               beside a package.json that says so
# js/src/runtime.js loads one or the other and drives the exports
# (Module._bs_wasm_*) as it drives the reactor's.
#
# The glue preloads Module.bsWorkers workers before it resolves (the
# PTHREAD_POOL_SIZE expression): a page's main thread cannot wait for a
# worker that starts later (the worker needs the event loop the waiting
# thread holds), so the runtime asks for the pool it needs up front, and
# PTHREAD_POOL_SIZE_STRICT=2 makes a thread beyond it fail pthread_create
# (the pool then reports "cannot start thread") instead of deadlocking.
#
# Memory: shared memories need a maximum; 2 GiB, because the JS side reads
# pointers as int32 (p >> 2) like the reactor's.

set(BS_THREADS_LINK
  -pthread -sMODULARIZE=1 -sEXPORT_NAME=BitstackThreads
  -sPTHREAD_POOL_SIZE=Module.bsWorkers -sPTHREAD_POOL_SIZE_STRICT=2
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=33554432 -sMAXIMUM_MEMORY=2147483648
  -sTOTAL_STACK=1048576 -sDEFAULT_PTHREAD_STACK_SIZE=1048576
  -sEXPORTED_FUNCTIONS=_malloc,_free -sFILESYSTEM=0
  -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0
  # growth makes the glue's own heap views check the buffer on each use;
  # runtime.js takes fresh views anyway, and the kernels run in wasm
  -Wno-pthreads-mem-growth)

# The work below which a job stays on the calling thread (session.h): wasm
# SIMD128 runs the kernels at about 0.4x native speed, so the same few
# microseconds of work are fewer multiply-adds here.
target_compile_definitions(bitstack_core PRIVATE BS_PAR_MIN_WORK=100000)

add_executable(bitstack_threads bs_wasm.c no_files.c)
set_target_properties(bitstack_threads PROPERTIES OUTPUT_NAME bitstack-threads SUFFIX .mjs)
target_link_libraries(bitstack_threads PRIVATE bitstack_core)
target_link_options(bitstack_threads PRIVATE ${BS_THREADS_LINK} -sEXPORT_ES6=1 -sENVIRONMENT=web,worker)

add_executable(bitstack_threads_node bs_wasm.c no_files.c)
set_target_properties(bitstack_threads_node PROPERTIES OUTPUT_NAME bitstack-threads SUFFIX .js
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/node)
target_link_libraries(bitstack_threads_node PRIVATE bitstack_core)
target_link_options(bitstack_threads_node PRIVATE ${BS_THREADS_LINK} -sENVIRONMENT=node)
file(WRITE ${CMAKE_BINARY_DIR}/node/package.json "{ \"type\": \"commonjs\" }\n")

# Tests: the C tests that check threads and kernels, as Node programs of
# the same threaded core (ctest runs them with node): test_threads runs
# whole forward passes on 1 to 4 threads with every job split and compares
# every logit with memcmp; test_kernels_wasm compares the kernel variants.
# main() runs in a pthread (PROXY_TO_PTHREAD), so Node's main thread stays
# free to start workers and take back those of joined threads; NODERAWFS
# lets the tests read the repository's files by path.
if(NOT BS_WASM_TESTS)
  return()
endif()
enable_testing()
find_program(NODE_EXECUTABLE node REQUIRED)
# --no-experimental-fetch: the glue would fetch() its .wasm by path, which Node 20 refuses
set(CMAKE_CROSSCOMPILING_EMULATOR ${NODE_EXECUTABLE};--no-experimental-fetch)
foreach(name test_threads test_kernels_wasm)
  add_executable(${name}_threads ${BS_ROOT}/tests/${name}.c)
  set_target_properties(${name}_threads PROPERTIES OUTPUT_NAME ${name} SUFFIX .js
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${name}_threads PRIVATE ${BS_ROOT}/tests)
  target_compile_definitions(${name}_threads PRIVATE
    BS_SHARED_DIR="${BS_SHARED_DIR}" BS_TEST_DATA="${BS_ROOT}/tests/data" BS_BINARY_DIR="${CMAKE_BINARY_DIR}"
    BS_TEST_EXPECT_THREADS=1)
  target_link_libraries(${name}_threads PRIVATE bitstack_core)
  target_link_options(${name}_threads PRIVATE -pthread -sPROXY_TO_PTHREAD=1 -sEXIT_RUNTIME=1 -sNODERAWFS=1
                      -sENVIRONMENT=node -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2147483648
                      -sTOTAL_STACK=8388608 -sDEFAULT_PTHREAD_STACK_SIZE=8388608 -sPTHREAD_POOL_SIZE=5
                      -Wno-pthreads-mem-growth)
  add_test(NAME ${name} COMMAND ${name}_threads)
  set_tests_properties(${name} PROPERTIES LABELS "wasm;threads" TIMEOUT 600)
endforeach()
