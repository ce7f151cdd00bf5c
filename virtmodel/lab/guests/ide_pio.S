# ide_pio: a real-mode firmware image for QEMU's pc machine (the code of a -bios ROM,
# entered at F000:0100 from the reset vector) that drives the legacy IDE disk and counts.
# In:  the ROM's parameter block at F000:0000: u16 mode, u16 0, u32 count (>= 1),
#      u32 lba, u16 expected checksum.  Modes: 0 an empty loop of count iterations (the
#      baseline), 1 count reads of the status register, 2 count IDENTIFY DEVICE commands,
#      each moving its 256 words with one rep insw, 3 count CHECK POWER MODE commands (the
#      same register writes, no data), 4 READ SECTORS of count sectors from lba, one
#      sector per command, polling status for DRQ, the data by rep insw, the 16-bit sum of
#      all words compared with the expected checksum.
# Out: at 0000:0500 u32 "DONE" magic, u32 status polls (mode 4), u16 checksum, u16 the
#      sector count register after the last command; the data of the last command at
#      0000:8000.  Mode 4 then writes 0 (checksum right) or 1 (wrong, or a failed command)
#      to the isa-debug-exit port 0xf4: QEMU exits with status 1 or 3.  Every other mode
#      halts with interrupts off (the vCPU thread then sleeps).
        .intel_syntax noprefix
        .code16
        .globl _start
_start:
        cli
        mov     ax, cs
        mov     ds, ax                  # the parameter block
        xor     ax, ax
        mov     es, ax                  # results and buffers in low RAM
        mov     ss, ax
        mov     sp, 0x7000
        mov     al, 0xff
        out     0x21, al                # both PICs masked
        out     0xa1, al
        mov     dx, 0x3f6
        mov     al, 0x02                # device control: nIEN (no IDE interrupt)
        out     dx, al
        xor     ebp, ebp                # status polls
        xor     si, si                  # checksum
        mov     ecx, dword ptr [4]
        mov     bx, word ptr [0]
        cmp     bx, 1
        je      status_reads
        cmp     bx, 2
        je      identify
        cmp     bx, 3
        je      check_power
        cmp     bx, 4
        je      read_sectors
baseline:
        dec     ecx
        jnz     baseline
        jmp     done
status_reads:
        mov     dx, 0x1f7
1:      in      al, dx
        dec     ecx
        jnz     1b
        jmp     done
identify:
        mov     dx, 0x1f6
        mov     al, 0xe0
        out     dx, al                  # the master, LBA
        inc     dx
        mov     al, 0xec
        out     dx, al                  # IDENTIFY DEVICE: the data is ready at once
        mov     dx, 0x1f0
        mov     di, 0x8000
        push    ecx
        mov     cx, 256
        rep insw
        pop     ecx
        dec     ecx
        jnz     identify
        jmp     done
check_power:
        mov     dx, 0x1f6
        mov     al, 0xe0
        out     dx, al
        inc     dx
        mov     al, 0xe5
        out     dx, al                  # CHECK POWER MODE: no data
        dec     ecx
        jnz     check_power
        jmp     done
read_sectors:
        mov     edi, dword ptr [8]      # the next sector's LBA
next_sector:
        call    wait_ready
        mov     dx, 0x1f6
        mov     eax, edi
        shr     eax, 24
        and     al, 0x0f
        or      al, 0xe0
        out     dx, al                  # the master, LBA bits 24-27
        mov     dx, 0x1f2
        mov     al, 1
        out     dx, al                  # one sector
        inc     dx
        mov     eax, edi
        out     dx, al                  # LBA bits 0-7
        inc     dx
        shr     eax, 8
        out     dx, al                  # 8-15
        inc     dx
        shr     eax, 8
        out     dx, al                  # 16-23
        mov     dx, 0x1f7
        mov     al, 0x20
        out     dx, al                  # READ SECTORS
2:      inc     ebp
        in      al, dx
        test    al, 0x01
        jnz     failed
        test    al, 0x80
        jnz     2b
        test    al, 0x08
        jz      2b                      # until not busy and DRQ
        push    edi
        push    ecx
        mov     dx, 0x1f0
        mov     di, 0x8000
        mov     cx, 256
        rep insw
        mov     di, 0x8000
        mov     cx, 256
3:      add     si, word ptr es:[di]
        add     di, 2
        dec     cx
        jnz     3b
        pop     ecx
        pop     edi
        inc     edi
        dec     ecx
        jnz     next_sector
        call    wait_ready
        call    report
        xor     al, al
        cmp     si, word ptr [12]
        je      exit
failed:
        call    report
        mov     al, 1
exit:
        out     0xf4, al
        jmp     halt
wait_ready:
        mov     dx, 0x1f7
4:      inc     ebp
        in      al, dx
        test    al, 0x80
        jnz     4b
        ret
report:
        mov     dx, 0x1f2
        in      al, dx
        xor     ah, ah
        mov     word ptr es:[0x50a], ax
        mov     word ptr es:[0x508], si
        mov     dword ptr es:[0x504], ebp
        mov     dword ptr es:[0x500], 0x454e4f44   # "DONE"
        ret
done:
        call    report
halt:
        cli
        hlt
        jmp     halt
