# exit_loop: repeat one trapping operation rcx times, then report done.
# In:  rcx = repetitions (>= 1), rdx = port, rdi = MMIO address (op 3: a u64 in RAM),
#      r8 = done port, r9 = which operation: 0 PIO out, 1 MMIO store, 2 CPUID, 3 kick and
#      wait: a port write, then a spin until the host changes the u64 at rdi.
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
        cmp     r9, 3
        je      kick_wait
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
        jmp     done
kick_wait:
        mov     rax, qword ptr [rdi]    # the answer so far
        out     dx, al
answer: pause
        cmp     qword ptr [rdi], rax
        je      answer
        dec     r10
        jnz     kick_wait
done:   mov     rdx, r8
        out     dx, al
        jmp     done
