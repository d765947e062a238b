// mn_ctx_switch / mn_ctx_entry: the x86-64 (System V) stack switch.
//
// mn_ctx_switch(void** save_sp, void* next_sp) saves what the ABI says a callee must
// preserve -- rbx, rbp, r12-r15, the MXCSR and the x87 control word -- on the current
// stack, stores the stack pointer in *save_sp, loads next_sp and restores the same set
// from there. Caller-saved registers are already dead at the call, which is why this is
// all a switch needs. The return address is popped and jumped to rather than `ret`urned
// to: the return-stack predictor would mispredict every `ret` into another stack (3 ns
// against 12.5 ns measured on these machines, ../shared/notes/go-scheduler.md).
//
// Frame at *save_sp, lowest address first (userspace/context.cpp builds the same frame for
// a new G): [mxcsr:4 | x87 cw:2 | pad:2] r15 r14 r13 r12 rbx rbp return-address.

    .text
    .globl  mn_ctx_switch
    .type   mn_ctx_switch, @function
    .p2align 4
mn_ctx_switch:
    .cfi_startproc
    endbr64
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
    popq    %rcx
    jmpq    *%rcx
    .cfi_endproc
    .size   mn_ctx_switch, .-mn_ctx_switch

// First instruction a new G executes: r12 holds its argument and r13 its entry function
// (placed there by the initial frame). The entry never returns; ud2 marks that.
    .globl  mn_ctx_entry
    .type   mn_ctx_entry, @function
    .p2align 4
mn_ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    endbr64
    movq    %r12, %rdi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   mn_ctx_entry, .-mn_ctx_entry

    .section .note.GNU-stack,"",@progbits
