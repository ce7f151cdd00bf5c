# virtio_driver: the driver half of a split virtqueue, one descriptor per request.
# Makes rcx requests available, kicking after every r8 of them (and after the last), then
# waits until the device has used them all (at once when the device runs during the kick's
# exit; a spin while it runs in another thread, for as long as it takes: the VMM's
# watchdog bounds the run, not the guest).  Request k uses descriptor k % q and the buffer
# at r10 + (k % q) * r9, whose first 8 bytes carry k (the request id).
# In:  rdi = descriptor table, r11 = available ring, r14 = used ring (guest addresses),
#      rsi = queue size q (a power of two), rdx = notify port, rcx = requests (>= 1),
#      r8 = batch (1..q), r9 = bytes per request (>= 8), r10 = buffer base,
#      r15 = done port.
        .intel_syntax noprefix
        .code64
        .globl _start
_start:
        xor     r12d, r12d              # avail_idx, free-running
        xor     r13d, r13d              # requests since the last kick
        lea     rbx, [rsi - 1]          # slot mask
next:   mov     rax, r12
        and     rax, rbx                # slot = avail_idx % q, also the head
        mov     word ptr [r11 + rax*2 + 4], ax  # avail.ring[slot] = head (not yet published)
        mov     rbp, rax
        imul    rbp, r9
        add     rbp, r10                # the request's buffer
        mov     qword ptr [rbp], r12    # its id
        shl     rax, 4
        add     rax, rdi                # its descriptor
        mov     qword ptr [rax], rbp    # desc.addr
        mov     dword ptr [rax + 8], r9d        # desc.len
        mov     dword ptr [rax + 12], 0         # desc.flags = 0, desc.next = 0
        inc     r12
        inc     r13
        dec     rcx
        jz      kick
        cmp     r13, r8
        jb      next
kick:   mov     word ptr [r11 + 2], r12w        # publish avail_idx
        out     dx, al                          # kick
        xor     r13d, r13d
wait:   movzx   eax, word ptr [r14 + 2]         # used_idx
        cmp     ax, r12w
        je      used
        pause
        jmp     wait
used:   test    rcx, rcx
        jnz     next
        mov     rdx, r15
        out     dx, al
        jmp     _start
