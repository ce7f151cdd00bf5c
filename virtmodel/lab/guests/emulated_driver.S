# emulated_driver: rcx requests to a device programmed by port writes, r8 writes each
# (1: doorbell only; 3: buffer address, length, doorbell).  Request k writes its id k in
# the first 8 bytes of the buffer at r10 + (k % q) * r9 before ringing.
# In:  rcx = requests (>= 1), rdx = base port (address at +0, length at +1, doorbell at
#      +2), r8 = 1 or 3, rsi = q (a power of two), r9 = bytes (>= 8), r10 = buffer base,
#      r15 = done port.
        .intel_syntax noprefix
        .code64
        .globl _start
_start:
        xor     r12d, r12d              # request id
        lea     rbx, [rsi - 1]
        mov     r13, rdx                # base port
next:   mov     rax, r12
        and     rax, rbx
        imul    rax, r9
        add     rax, r10                # the buffer
        mov     qword ptr [rax], r12
        cmp     r8, 1
        je      ring
        mov     rdx, r13
        out     dx, eax                 # address register
        lea     rdx, [r13 + 1]
        mov     eax, r9d
        out     dx, eax                 # length register
ring:   lea     rdx, [r13 + 2]
        mov     eax, r12d
        out     dx, eax                 # doorbell: the request id
        inc     r12
        dec     rcx
        jnz     next
        mov     rdx, r15
        out     dx, al
        jmp     _start
