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
  -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0)

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
