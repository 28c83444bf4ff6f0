//! How the two binaries are linked (build.rs): the helper, which sudo runs as root, is a
//! position-independent executable with read-only relocations; the agent is position-dependent
//! (a fixed load address keeps emulated hosts from translating its code anew on every run).

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const PT_GNU_RELRO: u32 = 0x6474_e552;

struct Elf {
    kind: u16,
    segments: Vec<u32>,
}

fn read_elf(path: &str) -> Elf {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&bytes[..4], b"\x7fELF", "{path} is not an ELF file");
    assert_eq!(bytes[4], 2, "{path}: not a 64-bit ELF");
    assert_eq!(bytes[5], 1, "{path}: not little-endian");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36) as usize, u16_at(0x38) as usize);
    Elf {
        kind: u16_at(0x10),
        segments: (0..phnum).map(|i| u32_at(phoff + i * phentsize)).collect(),
    }
}

#[test]
fn the_helper_is_a_pie_with_read_only_relocations() {
    let helper = read_elf(env!("CARGO_BIN_EXE_groundwork-helper"));
    assert_eq!(
        helper.kind, ET_DYN,
        "the helper must stay position-independent"
    );
    assert!(
        helper.segments.contains(&PT_INTERP),
        "a PIE executable, not a shared library"
    );
    assert!(
        helper.segments.contains(&PT_GNU_RELRO),
        "the helper lost RELRO"
    );
}

#[test]
fn the_agent_is_position_dependent() {
    let agent = read_elf(env!("CARGO_BIN_EXE_groundwork"));
    assert_eq!(
        agent.kind, ET_EXEC,
        "build.rs links groundwork with -no-pie"
    );
    assert!(agent.segments.contains(&PT_GNU_RELRO));
}
