# wasi-toolchain.cmake - clang 14 targeting wasm32-wasi with Debian's
# wasi-libc (see ../shared/TOOLCHAIN.md, "WASI route").
#
# CMake 3.25 has no WASI platform, so this is a Generic system. Debian
# installs wasi-libc under /usr/include/wasm32-wasi and /usr/lib/wasm32-wasi
# but ships no sysroot: without one clang falls back to the host's glibc
# headers. We build a sysroot of two symlinks next to this file (git-ignored)
# and point CMAKE_SYSROOT at it.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)

find_program(BS_WASI_CLANG NAMES clang-14 clang REQUIRED)
set(CMAKE_C_COMPILER ${BS_WASI_CLANG})
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
# try_compile cannot run or link a wasm executable without its emulator
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(BS_WASI_INCLUDE /usr/include/wasm32-wasi CACHE PATH "wasi-libc headers")
set(BS_WASI_LIB /usr/lib/wasm32-wasi CACHE PATH "wasi-libc libraries")
if(NOT EXISTS ${BS_WASI_INCLUDE}/stdio.h OR NOT EXISTS ${BS_WASI_LIB}/libc.a)
  message(FATAL_ERROR "wasi-libc not found (apt-get install wasi-libc libclang-rt-14-dev-wasm32 lld-14)")
endif()
set(BS_WASI_SYSROOT ${CMAKE_CURRENT_LIST_DIR}/sysroot)
file(MAKE_DIRECTORY ${BS_WASI_SYSROOT}/include ${BS_WASI_SYSROOT}/lib)
if(NOT EXISTS ${BS_WASI_SYSROOT}/include/wasm32-wasi)
  file(CREATE_LINK ${BS_WASI_INCLUDE} ${BS_WASI_SYSROOT}/include/wasm32-wasi SYMBOLIC)
endif()
if(NOT EXISTS ${BS_WASI_SYSROOT}/lib/wasm32-wasi)
  file(CREATE_LINK ${BS_WASI_LIB} ${BS_WASI_SYSROOT}/lib/wasm32-wasi SYMBOLIC)
endif()
set(CMAKE_SYSROOT ${BS_WASI_SYSROOT})

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
