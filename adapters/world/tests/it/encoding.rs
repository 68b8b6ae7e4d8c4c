//! UTF-8 with a byte-order mark and GB18030 (what Excel saves in a Chinese
//! locale) read as the plain UTF-8 bundle does.

use gridloop_world::{Encoding, read};

use crate::support::{files, printed, write};

const CSV_FILES: [&str; 5] = ["catalog.csv", "departments.csv", "teams.csv", "volunteers.csv", "staff.csv"];

#[test]
fn utf8_with_bom_and_gb18030_read_the_same() {
    let plain = read(write(&files()).path(), Encoding::Auto).expect("reads");
    let mut with_bom = files();
    let mut gb = files();
    for name in CSV_FILES {
        let text = String::from_utf8(files()[name].clone()).expect("UTF-8");
        with_bom.insert(name, [&b"\xef\xbb\xbf"[..], text.as_bytes()].concat());
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err(), "{name} in GB18030 is not UTF-8, so detection is tested");
        gb.insert(name, bytes.into_owned());
    }
    assert_eq!(read(write(&with_bom).path(), Encoding::Auto).expect("with a BOM"), plain);
    assert_eq!(read(write(&with_bom).path(), Encoding::Utf8).expect("forced UTF-8"), plain);
    assert_eq!(read(write(&gb).path(), Encoding::Auto).expect("GB18030 detected"), plain);
    assert_eq!(read(write(&gb).path(), Encoding::Gb18030).expect("GB18030 forced"), plain);
}

#[test]
fn gb18030_forced_as_utf8_names_the_line() {
    let mut gb = files();
    let text = String::from_utf8(files()["catalog.csv"].clone()).expect("UTF-8");
    gb.insert("catalog.csv", encoding_rs::GB18030.encode(&text).0.into_owned());
    let problems = read(write(&gb).path(), Encoding::Utf8).expect_err("not UTF-8");
    assert_eq!(printed(&problems), "catalog.csv:2: is not valid UTF-8 here (a GB18030 file? try --encoding gb18030)\n");
}

#[test]
fn encodings_are_named_as_the_flag_names_them() {
    assert_eq!(Encoding::parse("utf-8"), Some(Encoding::Utf8));
    assert_eq!(Encoding::parse("GBK"), Some(Encoding::Gb18030));
    assert_eq!(Encoding::parse("latin1"), None);
}
