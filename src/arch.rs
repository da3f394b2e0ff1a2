//! The CPU architectures of EC2 instances `bundle-bootstrap` is built for, named the way the
//! release files are (`bundle-bootstrap-x86_64`, `bundle-bootstrap-aarch64`): from `uname -m`'s
//! output and from an ELF file's header. Pure: bytes and strings in, no I/O.

use std::fmt;
use std::str::FromStr;

/// An architecture a `bundle-bootstrap` build runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// 64-bit x86 (Intel and AMD instances).
    X86_64,
    /// 64-bit ARM (Graviton instances).
    Aarch64,
}

impl Arch {
    /// Every architecture, in the order scripts list them.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name used in file names, pins and messages; what `uname -m` prints on Linux.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The other names the same architecture goes by (Debian's and Apple's), which `uname -m` on
    /// some systems and people typing flags use.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["amd64"],
            Arch::Aarch64 => &["arm64"],
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == text || a.aliases().contains(&text))
            .ok_or_else(|| {
                format!("{text:?} is not an architecture bundle-bootstrap is built for: x86_64 (amd64) or aarch64 (arm64)")
            })
    }
}

/// The ELF identification bytes every ELF file starts with (System V ABI, "ELF Header", `e_ident`).
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// `e_ident[EI_CLASS]`: 1 for 32-bit objects, 2 for 64-bit ones.
const EI_CLASS: usize = 4;
/// `ELFCLASS64`.
const ELFCLASS64: u8 = 2;
/// `e_ident[EI_DATA]`: the byte order of the fields after `e_ident`.
const EI_DATA: usize = 5;
/// `ELFDATA2LSB`: little-endian.
const ELFDATA2LSB: u8 = 1;
/// `ELFDATA2MSB`: big-endian.
const ELFDATA2MSB: u8 = 2;
/// Where `e_machine` sits: after the 16 bytes of `e_ident` and the 2 of `e_type`.
const E_MACHINE: usize = 18;
/// How many bytes of a file [`Arch::from_elf_header`] needs.
pub const ELF_HEADER_NEEDED: usize = E_MACHINE + 2;
/// `EM_X86_64`.
const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
const EM_AARCH64: u16 = 183;
/// Machines people may hand us by mistake, named in the refusal.
const OTHER_MACHINES: &[(u16, &str)] = &[
    (3, "i386"),
    (8, "mips"),
    (20, "powerpc"),
    (21, "ppc64"),
    (22, "s390x"),
    (40, "32-bit arm"),
    (243, "riscv"),
    (258, "loongarch"),
];

impl Arch {
    /// The architecture of the ELF executable whose first bytes are `header` (at least
    /// [`ELF_HEADER_NEEDED`] of them), by its `e_machine` field; a reason when it is not an ELF
    /// file, or not a 64-bit one for x86_64 or aarch64.
    pub fn from_elf_header(header: &[u8]) -> Result<Arch, String> {
        if header.len() < ELF_HEADER_NEEDED || !header.starts_with(ELF_MAGIC) {
            return Err("not an ELF executable (no \\x7fELF header)".into());
        }
        let bytes = [header[E_MACHINE], header[E_MACHINE + 1]];
        let machine = match header[EI_DATA] {
            ELFDATA2LSB => u16::from_le_bytes(bytes),
            ELFDATA2MSB => u16::from_be_bytes(bytes),
            other => return Err(format!("an ELF file of unknown byte order {other}")),
        };
        let arch = match machine {
            EM_X86_64 => Arch::X86_64,
            EM_AARCH64 => Arch::Aarch64,
            other => {
                let known = OTHER_MACHINES
                    .iter()
                    .find(|(m, _)| *m == other)
                    .map_or(String::new(), |(_, name)| format!(" ({name})"));
                return Err(format!(
                    "an ELF executable for machine {other}{known}, not x86_64 or aarch64"
                ));
            }
        };
        if header[EI_CLASS] != ELFCLASS64 {
            return Err(format!("a 32-bit ELF file, not a 64-bit {arch} executable"));
        }
        Ok(arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, machine: [u8; 2]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(ELF_MAGIC);
        h[EI_CLASS] = class;
        h[EI_DATA] = data;
        h[E_MACHINE..E_MACHINE + 2].copy_from_slice(&machine);
        h
    }

    #[test]
    fn elf_headers_name_their_machine() {
        let x86 = header(ELFCLASS64, ELFDATA2LSB, EM_X86_64.to_le_bytes());
        assert_eq!(Arch::from_elf_header(&x86), Ok(Arch::X86_64));
        let arm = header(ELFCLASS64, ELFDATA2LSB, EM_AARCH64.to_le_bytes());
        assert_eq!(Arch::from_elf_header(&arm), Ok(Arch::Aarch64));
        let arm_be = header(ELFCLASS64, ELFDATA2MSB, EM_AARCH64.to_be_bytes());
        assert_eq!(Arch::from_elf_header(&arm_be), Ok(Arch::Aarch64));
        let riscv = header(ELFCLASS64, ELFDATA2LSB, 243u16.to_le_bytes());
        assert!(
            Arch::from_elf_header(&riscv)
                .unwrap_err()
                .contains("243 (riscv)")
        );
        let i386 = header(1, ELFDATA2LSB, 3u16.to_le_bytes());
        assert!(Arch::from_elf_header(&i386).unwrap_err().contains("i386"));
        let x32 = header(1, ELFDATA2LSB, EM_X86_64.to_le_bytes());
        assert!(Arch::from_elf_header(&x32).unwrap_err().contains("32-bit"));
        assert!(Arch::from_elf_header(b"#!/bin/sh\necho hi\n....").is_err());
        assert!(Arch::from_elf_header(&x86[..10]).is_err());
    }

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!("arm64".parse(), Ok(Arch::Aarch64));
        assert_eq!("amd64".parse(), Ok(Arch::X86_64));
        assert_eq!("x86_64".parse(), Ok(Arch::X86_64));
        assert!("riscv64".parse::<Arch>().is_err());
    }
}
