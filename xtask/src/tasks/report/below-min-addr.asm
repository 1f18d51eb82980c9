; The report's control for check 5: a plain x86-64 file that loads at 0x1000,
; below vm.mmap_min_addr = 65536. `nasm -f bin` writes the whole file, ELF
; header and program header included, nothing overlapped.
;
; Check 5 runs it as uid 65534 with vm.mmap_min_addr = 65536, where the kernel
; must refuse to map it: the report shows that check fails it. Root maps it
; anyway (CAP_SYS_RAWIO), and so does uid 65534 where the setting is 4096 or
; lower, so the other checks see an ordinary program.
; Exit status: 0 when the whole message was written, 1 otherwise.
;
; The message comes from message.inc, which `cargo xtask report` writes.

BITS 64
%include "message.inc"

BASE equ 0x1000                     ; load address: below 65536, on a page boundary

org BASE
ehdr:
    db 0x7f, "ELF"                  ; 0x00 e_ident[EI_MAG0..3]
    db 2                            ; 0x04 e_ident[EI_CLASS] = ELFCLASS64
    db 1                            ; 0x05 e_ident[EI_DATA] = ELFDATA2LSB
    db 1                            ; 0x06 e_ident[EI_VERSION] = EV_CURRENT
    db 0                            ; 0x07 e_ident[EI_OSABI] = System V
    times 8 db 0                    ; 0x08 e_ident[EI_ABIVERSION, EI_PAD]
    dw 2                            ; 0x10 e_type = ET_EXEC
    dw 0x3e                         ; 0x12 e_machine = EM_X86_64
    dd 1                            ; 0x14 e_version = EV_CURRENT
    dq start                        ; 0x18 e_entry
    dq phdr - ehdr                  ; 0x20 e_phoff
    dq 0                            ; 0x28 e_shoff: no sections
    dd 0                            ; 0x30 e_flags
    dw 64                           ; 0x34 e_ehsize
    dw 56                           ; 0x36 e_phentsize
    dw 1                            ; 0x38 e_phnum
    dw 0, 0, 0                      ; 0x3a e_shentsize, e_shnum, e_shstrndx
phdr:
    dd 1                            ; 0x40 p_type = PT_LOAD
    dd 5                            ; 0x44 p_flags = PF_R|PF_X
    dq 0                            ; 0x48 p_offset: the whole file, headers included
    dq BASE                         ; 0x50 p_vaddr: 0x1000
    dq BASE                         ; 0x58 p_paddr (unused)
    dq size                         ; 0x60 p_filesz
    dq size                         ; 0x68 p_memsz
    dq 0x1000                       ; 0x70 p_align
start:
    mov eax, 1                      ; 0x78 write (syscall_64.tbl)
    mov edi, 1                      ; stdout
    lea rsi, [rel msg]
    mov edx, MESSAGE_LEN
    syscall
    xor edi, edi
    cmp rax, MESSAGE_LEN
    setne dil                       ; status 1 unless the whole message was written
    mov eax, 60                     ; exit (syscall_64.tbl)
    syscall
msg:
    MESSAGE
size equ $ - ehdr
