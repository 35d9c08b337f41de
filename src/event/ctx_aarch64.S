/* ctx_aarch64.S - the coroutine context switch for AArch64 (AAPCS64).
 * Saves the callee-saved registers x19-x28, the frame pointer x29, the link
 * register x30, the low halves d8-d15 of v8-v15 (AAPCS64, "Procedure Call
 * Standard for the Arm 64-bit Architecture", 6.1.1 and 6.1.2) and the FPCR
 * (rounding mode: each coroutine keeps its own, as on x86-64) on the running
 * stack and swaps stack pointers. FPCR is written only when it differs:
 * writing it can stall the pipeline on some cores. */

/* Frame on a switched-out stack, from the saved stack pointer upwards:
 *   0 x19 x20   16 x21 x22   32 x23 x24   48 x25 x26   64 x27 x28
 *  80 x29 x30   96 d8 d9    112 d10 d11  128 d12 d13  144 d14 d15
 * 160 fpcr  168 (padding)                                               (176) */

    .text

/* void ss__coro_ctx_switch(void **from, void *to) */
    .globl  ss__coro_ctx_switch
    .hidden ss__coro_ctx_switch
    .type   ss__coro_ctx_switch, %function
    .p2align 4
ss__coro_ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x10, fpcr
    str     x10, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldr     x9, [sp, #160]
    cmp     x9, x10
    b.eq    1f
    msr     fpcr, x9
1:
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #176
    ret
    .cfi_endproc
    .size   ss__coro_ctx_switch, .-ss__coro_ctx_switch

/* void *ss__coro_ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg)
 * Builds the frame above with x19 = entry, x20 = arg, x29 = 0, x30 = the
 * trampoline and the creating thread's FPCR, 16 bytes below the aligned top
 * of the stack. */
    .globl  ss__coro_ctx_make
    .hidden ss__coro_ctx_make
    .type   ss__coro_ctx_make, %function
    .p2align 4
ss__coro_ctx_make:
    .cfi_startproc
    add     x4, x0, x1
    and     x4, x4, #~15
    stp     xzr, xzr, [x4, #-16]
    sub     x4, x4, #192
    stp     x2, x3, [x4, #0]
    stp     xzr, xzr, [x4, #16]
    stp     xzr, xzr, [x4, #32]
    stp     xzr, xzr, [x4, #48]
    stp     xzr, xzr, [x4, #64]
    adr     x5, coro_trampoline
    stp     xzr, x5, [x4, #80]
    stp     xzr, xzr, [x4, #96]
    stp     xzr, xzr, [x4, #112]
    stp     xzr, xzr, [x4, #128]
    stp     xzr, xzr, [x4, #144]
    mrs     x6, fpcr
    stp     x6, xzr, [x4, #160]
    mov     x0, x4
    ret
    .cfi_endproc
    .size   ss__coro_ctx_make, .-ss__coro_ctx_make

/* The first code a coroutine runs: entry(arg), which never returns. */
    .type   coro_trampoline, %function
    .p2align 4
coro_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    brk     #1
    .cfi_endproc
    .size   coro_trampoline, .-coro_trampoline

    .section .note.GNU-stack,"",%progbits
