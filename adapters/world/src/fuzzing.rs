//! The fuzz target's input format, shared by the target (`fuzz/src/lib.rs`,
//! `world_bundle`) and this crate's corpus replay test, so both cut the
//! same bytes into the same files.
//!
//! The input is split on NUL bytes (which no text file of a bundle holds):
//! the first part names the encoding (`auto`, `utf-8`, `gb18030`; anything
//! else is `auto`), and each later part is a file: its name up to the first
//! line break, then its bytes.

use crate::Encoding;

/// The encoding and the files an input stands for.
pub fn split(data: &[u8]) -> (Encoding, Vec<(&str, &[u8])>) {
    let mut parts = data.split(|&b| b == 0);
    let encoding = parts
        .next()
        .and_then(|name| std::str::from_utf8(name).ok())
        .and_then(|name| Encoding::parse(name.trim()))
        .unwrap_or_default();
    let files = parts
        .map(|part| {
            let cut = part.iter().position(|&b| b == b'\n').unwrap_or(part.len());
            let name = std::str::from_utf8(&part[..cut]).unwrap_or("?");
            (name.trim(), part.get(cut + 1..).unwrap_or_default())
        })
        .collect();
    (encoding, files)
}

/// Joins an encoding and files into one input (for writing seeds).
pub fn join(encoding: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut data = encoding.as_bytes().to_vec();
    for (name, bytes) in files {
        data.push(0);
        data.extend_from_slice(name.as_bytes());
        data.push(b'\n');
        data.extend_from_slice(bytes);
    }
    data
}
