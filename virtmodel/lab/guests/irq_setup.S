# irq_setup: give the guest an interrupt handler, then report done.  Run once, before the
# program that takes the interrupts (the handler stays in memory with this code).
# Fills the IDT's gate for vector rsi with a 64-bit interrupt gate to `handler` (CPL0 code
# segment 0x08; the CPU switches to the TSS's rsp0 stack), software-enables the local APIC
# (spurious-interrupt vector register, xAPIC page at 0xFEE00000) and writes r15 (done).
# In:  rdi = IDT base, rsi = vector (0x20..0xFE), r15 = done port.
# Runs at CPL3 with RFLAGS.IF already set by the VMM (STI at CPL3 is no option on PVM).
#
# handler (CPL0): copies the used ring's index (the ring's address is the u64 at
# IRQ_DATA + 8) to the shadow at IRQ_DATA + 16 + 2, where the driver waits for it, writes
# the local APIC's EOI register, counts the interrupt (u64 at IRQ_DATA) and returns (iretq).
        .intel_syntax noprefix
        .code64
        .set    IRQ_DATA, 0x7100
        .set    APIC, 0xFEE00000
        .globl _start
_start:
        lea     rax, [rip + handler]
        mov     rbx, rsi
        shl     rbx, 4
        add     rbx, rdi                # the gate
        mov     word ptr [rbx], ax      # offset 15..0
        mov     word ptr [rbx + 2], 0x08        # CPL0 code selector
        mov     word ptr [rbx + 4], 0x8E00      # present, DPL 0, interrupt gate, IST 0
        shr     rax, 16
        mov     word ptr [rbx + 6], ax  # offset 31..16
        shr     rax, 16
        mov     qword ptr [rbx + 8], rax        # offset 63..32, reserved
        mov     eax, APIC + 0xF0
        mov     dword ptr [rax], 0x1FF  # SVR: APIC enabled, spurious vector 0xFF
        mov     rdx, r15
        out     dx, al
        jmp     _start

handler:
        push    rax
        mov     rax, qword ptr [IRQ_DATA + 8]
        movzx   eax, word ptr [rax + 2]
        mov     word ptr [IRQ_DATA + 18], ax
        mov     eax, APIC + 0xB0
        mov     dword ptr [rax], 0      # EOI
        inc     qword ptr [IRQ_DATA]
        pop     rax
        iretq
