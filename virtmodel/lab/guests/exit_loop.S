# exit_loop: repeat one trapping operation rcx times, then report done.
# In:  rcx = repetitions (>= 1), rdx = port, rdi = MMIO address, r8 = done port,
#      r9 = which operation: 0 PIO out, 1 MMIO store, 2 CPUID.
# Runs in 64-bit mode at CPL3 with IOPL 3.
        .intel_syntax noprefix
        .code64
        .globl _start
_start:
        mov     r10, rcx
        cmp     r9, 1
        je      mmio
        cmp     r9, 2
        je      cpuid_loop
pio:    out     dx, al
        dec     r10
        jnz     pio
        jmp     done
mmio:   mov     dword ptr [rdi], eax
        dec     r10
        jnz     mmio
        jmp     done
cpuid_loop:
        xor     eax, eax
        cpuid
        dec     r10
        jnz     cpuid_loop
done:   mov     rdx, r8
        out     dx, al
        jmp     done
