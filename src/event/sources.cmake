# The event runtime: coroutines (one context switch per CPU architecture, or
# ucontext(3) as the portable fallback), the epoll poller, timers and the loop.
# Included OPTIONALLY by src/CMakeLists.txt, in its scope, before the library
# target exists: SS_EVENT_SOURCES (the runtime and the mode that uses it,
# src/mode_event.c) and SS_HAVE_EVENT for mode.c are set here.
option(SS_EVENT_UCONTEXT "Event mode: use makecontext/swapcontext instead of the assembly switch" OFF)

set(_ss_ev ${CMAKE_CURRENT_SOURCE_DIR}/event)
if(SS_EVENT_UCONTEXT)
  set(_ss_ev_ctx ${_ss_ev}/ctx_ucontext.c)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_ss_ev_ctx ${_ss_ev}/ctx_x86_64.S)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(_ss_ev_ctx ${_ss_ev}/ctx_aarch64.S)
else()
  set(_ss_ev_ctx ${_ss_ev}/ctx_ucontext.c)
endif()
message(STATUS "socketserver event runtime: context switch in ${_ss_ev_ctx}")

list(APPEND SS_EVENT_SOURCES
  ${_ss_ev_ctx}
  ${_ss_ev}/stack.c
  ${_ss_ev}/coro.c
  ${_ss_ev}/guard.c
  ${_ss_ev}/poll_epoll.c
  ${_ss_ev}/timer.c
  ${_ss_ev}/loop.c
  ${_ss_ev}/offload.c
  ${CMAKE_CURRENT_SOURCE_DIR}/mode_event.c)
# mode.c lists the event mode only when its runtime is built.
add_compile_definitions(SS_HAVE_EVENT=1)
