//! How the two binaries are linked (build.rs): both run as root (the helper through sudo, the
//! agent in apply-as-root, the Ansible play and wherever root runs it), so both are
//! position-independent executables with full RELRO (read-only relocations, bound at load).
//! The opt-in GROUNDWORK_NO_PIE=1 build for emulated labs is checked only when it was asked for.

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const DT_BIND_NOW: u64 = 24;
const DT_FLAGS: u64 = 30;
const DF_BIND_NOW: u64 = 0x8;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_NOW: u64 = 0x1;
const DF_1_PIE: u64 = 0x0800_0000;

struct Elf {
    kind: u16,
    segments: Vec<u32>,
    /// (tag, value) of the dynamic section.
    dynamic: Vec<(u64, u64)>,
}

fn read_elf(path: &str) -> Elf {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&bytes[..4], b"\x7fELF", "{path} is not an ELF file");
    assert_eq!(bytes[4], 2, "{path}: not a 64-bit ELF");
    assert_eq!(bytes[5], 1, "{path}: not little-endian");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let phoff = u64_at(0x20) as usize;
    let (phentsize, phnum) = (u16_at(0x36) as usize, u16_at(0x38) as usize);
    let mut segments = Vec::new();
    let mut dynamic = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let kind = u32_at(ph);
        segments.push(kind);
        if kind == PT_DYNAMIC {
            let (off, size) = (u64_at(ph + 8) as usize, u64_at(ph + 32) as usize);
            for e in (off..off + size).step_by(16) {
                dynamic.push((u64_at(e), u64_at(e + 8)));
            }
        }
    }
    Elf {
        kind: u16_at(0x10),
        segments,
        dynamic,
    }
}

fn flag(elf: &Elf, tag: u64, bit: u64) -> bool {
    elf.dynamic.iter().any(|(t, v)| *t == tag && v & bit != 0)
}

fn assert_hardened(name: &str, path: &str) {
    let elf = read_elf(path);
    assert_eq!(elf.kind, ET_DYN, "{name} must be position-independent");
    assert!(
        elf.segments.contains(&PT_INTERP),
        "{name}: a PIE executable, not a shared library"
    );
    assert!(
        flag(&elf, DT_FLAGS_1, DF_1_PIE),
        "{name}: DF_1_PIE is not set"
    );
    assert!(elf.segments.contains(&PT_GNU_RELRO), "{name} lost RELRO");
    let bind_now = elf.dynamic.iter().any(|(t, _)| *t == DT_BIND_NOW)
        || flag(&elf, DT_FLAGS, DF_BIND_NOW)
        || flag(&elf, DT_FLAGS_1, DF_1_NOW);
    assert!(bind_now, "{name}: RELRO is only partial (no BIND_NOW)");
}

#[test]
fn the_helper_is_a_pie_with_full_relro() {
    assert_hardened("groundwork-helper", env!("CARGO_BIN_EXE_groundwork-helper"));
}

#[test]
fn the_agent_is_a_pie_with_full_relro_unless_the_lab_build_was_asked_for() {
    let path = env!("CARGO_BIN_EXE_groundwork");
    if option_env!("GROUNDWORK_NO_PIE") == Some("1") {
        let elf = read_elf(path);
        assert_eq!(
            elf.kind, ET_EXEC,
            "GROUNDWORK_NO_PIE=1 links the agent -no-pie"
        );
        assert!(elf.segments.contains(&PT_GNU_RELRO));
        return;
    }
    assert_hardened("groundwork", path);
}
