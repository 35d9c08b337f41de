/* ctx_x86_64.S - the coroutine context switch for x86-64 (System V ABI).
 * Saves what the callee must preserve (rbx, rbp, r12-r15, the MXCSR control
 * bits and the x87 control word: System V AMD64 ABI, section 3.2.1 and 3.2.3)
 * on the running stack and swaps stack pointers, as State Threads' md.S and
 * Boost.Context's jump_fcontext do. About 14 ns a switch (docs/design.md). */

/* Frame on a switched-out stack, from the saved stack pointer upwards:
 *   0 mxcsr   4 x87 cw   8 r15   16 r14   24 r13   32 r12   40 rbx   48 rbp
 *  56 return address (into the switch's caller, or the trampoline) */

    .text

/* void ss__coro_ctx_switch(void **from, void *to) */
    .globl  ss__coro_ctx_switch
    .hidden ss__coro_ctx_switch
    .type   ss__coro_ctx_switch, @function
    .p2align 4
ss__coro_ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   ss__coro_ctx_switch, .-ss__coro_ctx_switch

/* void *ss__coro_ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg)
 * Builds the frame above so that the first switch "returns" into the
 * trampoline with r12 = entry, r13 = arg and a 16-byte aligned stack, and the
 * floating-point control words of the creating thread (as a new thread would
 * inherit them). */
    .globl  ss__coro_ctx_make
    .hidden ss__coro_ctx_make
    .type   ss__coro_ctx_make, @function
    .p2align 4
ss__coro_ctx_make:
    .cfi_startproc
    leaq    (%rdi,%rsi), %rax
    andq    $-16, %rax
    movq    $0, -8(%rax)          /* a null return address ends backtraces */
    movq    $0, -16(%rax)
    subq    $80, %rax             /* 16 bytes of zeros, then the 64-byte frame */
    stmxcsr (%rax)
    fnstcw  4(%rax)
    movq    $0, 8(%rax)
    movq    $0, 16(%rax)
    movq    %rcx, 24(%rax)
    movq    %rdx, 32(%rax)
    movq    $0, 40(%rax)
    movq    $0, 48(%rax)
    leaq    coro_trampoline(%rip), %rdx
    movq    %rdx, 56(%rax)
    ret
    .cfi_endproc
    .size   ss__coro_ctx_make, .-ss__coro_ctx_make

/* The first code a coroutine runs: entry(arg), which never returns. The
 * stack is 16-byte aligned here, so the call leaves the callee the alignment
 * the ABI promises. rip is marked undefined so unwinders stop here. */
    .type   coro_trampoline, @function
    .p2align 4
coro_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   coro_trampoline, .-coro_trampoline

    .section .note.GNU-stack,"",@progbits
