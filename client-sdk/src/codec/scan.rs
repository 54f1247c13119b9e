//! This module reads JSON text, the SDK's one reader of it. Mostly it finds where values start
//! and end without building them: an event's arguments are checked and split here, and a log
//! entry's `seq` is read here, so the events that make most of the traffic never become
//! `serde_json::Value` trees. When a tree is wanted (a handshake, a CONNECT, a stored action),
//! [`value`] builds one here too, so serde_json's own reader (its parser, its error texts) stays
//! out of the browser bundle. Strict RFC 8259 as serde_json and `JSON.parse` read it; the
//! splitter does not check a number's range (`1e400` passes; `JSON.parse` reads it as
//! Infinity), [`value`] refuses it as serde_json does.

use super::cut;
use serde_json::{Map, Number, Value};
use std::ops::Range;

/// Nesting deeper than this is refused, as serde_json refuses it (its recursion limit).
const MAX_DEPTH: usize = 127;

/// Where the text stopped being JSON (or held a number past the float range), as a byte
/// offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not JSON at byte {0}")]
pub struct NotJson(pub usize);

/// The elements of the JSON array `text`, each as its text. Whitespace around the array and
/// between elements is left out; the text of each element is verbatim.
pub(crate) fn elements(text: &str) -> Result<Vec<&str>, NotJson> {
    let mut s = Scan { b: text.as_bytes(), i: 0 };
    let mut out = Vec::new();
    s.ws();
    s.array(1, |e| out.push(cut(text, e)))?;
    s.end()?;
    Ok(out)
}

/// The text of member `key` of the JSON object `text` (checked JSON: the text of a decoded
/// argument), or `None` if it is not an object or has no such member. The last one wins when
/// a key repeats, as in `serde_json::Map`.
pub(crate) fn member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut s = Scan { b: text.as_bytes(), i: 0 };
    let mut found = None;
    s.ws();
    // Checked text: its depth was counted when it was decoded.
    s.object(0, |k, v| {
        if is_key(cut(text, k), key) {
            found = Some(cut(text, v));
        }
    })
    .ok()?;
    found
}

/// Whether the JSON string `quoted` (checked, with its quotes) is `key`.
fn is_key(quoted: &str, key: &str) -> bool {
    let inner = cut(quoted, 1..quoted.len() - 1);
    if !has_escape(inner) {
        return inner == key;
    }
    unescape(inner) == key
}

/// The JSON text `text` as a tree, as `serde_json::from_str::<Value>` reads it (the same
/// values, the same refusals), but for floats, which are read correctly rounded (serde_json
/// without `float_roundtrip` may be one unit off in the last place).
pub(crate) fn value(text: &str) -> Result<Value, NotJson> {
    let mut s = Scan { b: text.as_bytes(), i: 0 };
    s.ws();
    let v = s.tree(text, 1)?;
    s.end()?;
    Ok(v)
}

/// The content of a checked JSON string (with its quotes), its escapes undone.
pub(crate) fn unquote(quoted: &str) -> String {
    let inner = cut(quoted, 1..quoted.len() - 1);
    if has_escape(inner) {
        unescape(inner)
    } else {
        inner.to_owned()
    }
}

/// Checked string content that has an escape, its escapes undone.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.bytes().position(|b| b == b'\\') {
        out.push_str(cut(rest, ..at));
        let b = rest.as_bytes();
        let (c, used) = match b[at + 1] {
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = |from: usize| hex(&b[from..from + 4]);
                let hi = unit(at + 2);
                // Checked: a high surrogate is followed by `\u` and a low one.
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = unit(at + 8);
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    (char::from_u32(c).unwrap_or('\u{fffd}'), 12)
                } else {
                    (char::from_u32(hi).unwrap_or('\u{fffd}'), 6)
                }
            }
            // `"`, `\\` and `/` stand for themselves.
            c => (char::from(c), 2),
        };
        out.push(c);
        rest = cut(rest, at + used..);
    }
    out.push_str(rest);
    out
}

/// Four checked hex digits.
fn hex(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, &c| n << 4 | (c as char).to_digit(16).unwrap_or(0))
}

/// The content of the checked JSON string at `quoted` in `text`, which the scan found to have
/// an escape or not: copied as it is unless it has.
fn content(text: &str, quoted: Range<usize>, escaped: bool) -> String {
    let inner = cut(text, quoted.start + 1..quoted.end - 1);
    if escaped {
        unescape(inner)
    } else {
        inner.to_owned()
    }
}

/// A checked JSON number as serde_json reads it: a whole number (`whole`: written without a
/// fraction or an exponent) in `u64` or `i64` as such (`-0` as the float `-0.0`), anything else
/// as a float; `None` past the float range.
fn number(text: &str, whole: bool) -> Option<Number> {
    if whole {
        match text.strip_prefix('-') {
            None => {
                if let Some(n) = as_u64(text) {
                    return Some(n.into());
                }
            }
            Some(digits) => {
                if let Some(n) = as_u64(digits) {
                    if n != 0 && n <= 1 << 63 {
                        return Some((n.wrapping_neg() as i64).into());
                    }
                }
            }
        }
    }
    Number::from_f64(parse_float(text))
}

/// The browser's own reader of numbers: correctly rounded, and no float parser in the bundle.
#[cfg(target_arch = "wasm32")]
fn parse_float(text: &str) -> f64 {
    js_sys::Number::parse_float(text)
}

#[cfg(not(target_arch = "wasm32"))]
fn parse_float(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

/// Whether checked string content has an escape. A byte loop: `str::contains` brings a memchr
/// into the browser bundle for this alone.
pub(crate) fn has_escape(content: &str) -> bool {
    content.bytes().any(|b| b == b'\\')
}

/// A JSON number that is a whole number in `u64` (what `Value::as_u64` takes): `1.0`, `-1`,
/// `1e3` and numbers past `u64::MAX` are not.
pub(crate) fn as_u64(number: &str) -> Option<u64> {
    if number.is_empty() {
        return None;
    }
    number.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Where the run of plain string bytes (not `"`, `\\` or a control character) that starts at
/// `at` ends: eight bytes at a time while none of them stops it (most of an event's bytes are
/// in strings), then byte by byte.
fn plain_end(b: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero / below 0x20 (the classic word-at-a-time tests, exact for
    // whether any byte matches).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(at..at + 8) {
        let x = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
        let stop = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if stop != 0 {
            break;
        }
        at += 8;
    }
    at + b[at..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(b.len() - at)
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    // Inlined even at opt-level z: a call per byte was a quarter of the reader's time.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    // Inlined even at opt-level z: a call per byte was a quarter of the reader's time.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), NotJson> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(NotJson(self.i))
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn end(&mut self) -> Result<(), NotJson> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(NotJson(self.i))
        }
    }

    /// The value at the cursor, built.
    fn tree(&mut self, text: &str, depth: usize) -> Result<Value, NotJson> {
        if depth > MAX_DEPTH {
            return Err(NotJson(self.i));
        }
        let start = self.i;
        Ok(match self.peek() {
            Some(b'{') => {
                let mut m = Map::new();
                self.expect(b'{')?;
                self.list(b'}', |s| {
                    let key = s.i;
                    let escaped = s.string()?;
                    let key = content(text, key..s.i, escaped);
                    s.ws();
                    s.expect(b':')?;
                    s.ws();
                    m.insert(key, s.tree(text, depth + 1)?);
                    Ok(())
                })?;
                Value::Object(m)
            }
            Some(b'[') => {
                let mut items = Vec::new();
                self.expect(b'[')?;
                self.list(b']', |s| {
                    items.push(s.tree(text, depth + 1)?);
                    Ok(())
                })?;
                Value::Array(items)
            }
            Some(b'"') => {
                let escaped = self.string()?;
                Value::String(content(text, start..self.i, escaped))
            }
            Some(b'-' | b'0'..=b'9') => {
                let whole = self.number()?;
                Value::Number(number(cut(text, start..self.i), whole).ok_or(NotJson(start))?)
            }
            _ => {
                self.value(depth)?;
                match self.b[start] {
                    b't' => Value::Bool(true),
                    b'f' => Value::Bool(false),
                    _ => Value::Null,
                }
            }
        })
    }

    fn value(&mut self, depth: usize) -> Result<(), NotJson> {
        if depth > MAX_DEPTH {
            return Err(NotJson(self.i));
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(depth, |_, _| {}),
            Some(b'[') => self.array(depth, |_| {}),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => Err(NotJson(self.i)),
        }
    }

    /// An array at `depth` (its `[` next): `each` gets every element's place.
    fn array(&mut self, depth: usize, mut each: impl FnMut(Range<usize>)) -> Result<(), NotJson> {
        self.expect(b'[')?;
        self.list(b']', |s| {
            let start = s.i;
            s.value(depth + 1)?;
            each(start..s.i);
            Ok(())
        })
    }

    /// An object at `depth` (its `{` next): `each` gets every member's key (quoted) and
    /// value places.
    fn object(
        &mut self,
        depth: usize,
        mut each: impl FnMut(Range<usize>, Range<usize>),
    ) -> Result<(), NotJson> {
        self.expect(b'{')?;
        self.list(b'}', |s| {
            let key = s.i;
            s.string()?;
            let key = key..s.i;
            s.ws();
            s.expect(b':')?;
            s.ws();
            let value = s.i;
            s.value(depth + 1)?;
            each(key, value..s.i);
            Ok(())
        })
    }

    /// The comma-separated items of an array or object up to its `close`, its opening bracket
    /// read: `item` reads each one.
    fn list(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), NotJson>,
    ) -> Result<(), NotJson> {
        self.ws();
        if self.eat(close) {
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            if self.eat(close) {
                return Ok(());
            }
            self.expect(b',')?;
        }
    }

    fn word(&mut self, w: &[u8]) -> Result<(), NotJson> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(NotJson(self.i))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number; whether it is written as a whole one (no fraction, no exponent).
    fn number(&mut self) -> Result<bool, NotJson> {
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(NotJson(self.i));
        }
        let mut whole = true;
        if self.eat(b'.') {
            whole = false;
            if self.digits() == 0 {
                return Err(NotJson(self.i));
            }
        }
        if self.eat(b'e') || self.eat(b'E') {
            whole = false;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(NotJson(self.i));
            }
        }
        Ok(whole)
    }

    fn hex4(&mut self) -> Result<u16, NotJson> {
        let h = self.b.get(self.i..self.i + 4).ok_or(NotJson(self.i))?;
        let mut n = 0u16;
        for &c in h {
            let d = (c as char).to_digit(16).ok_or(NotJson(self.i))?;
            n = n << 4 | d as u16;
        }
        self.i += 4;
        Ok(n)
    }

    /// A string; the text is UTF-8 already (it is a `&str`), so only escapes and control
    /// characters are checked. A lone surrogate escape is refused, as serde_json refuses it.
    /// Whether it has an escape.
    fn string(&mut self) -> Result<bool, NotJson> {
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            self.i = plain_end(self.b, self.i);
            match self.peek() {
                None => return Err(NotJson(self.i)),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    self.i += 1;
                    escaped = true;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            match self.hex4()? {
                                0xD800..=0xDBFF => {
                                    let at = self.i;
                                    if !(self.eat(b'\\') && self.eat(b'u')) {
                                        return Err(NotJson(at));
                                    }
                                    if !(0xDC00..=0xDFFF).contains(&self.hex4()?) {
                                        return Err(NotJson(at));
                                    }
                                }
                                0xDC00..=0xDFFF => return Err(NotJson(self.i)),
                                _ => {}
                            }
                        }
                        _ => return Err(NotJson(self.i)),
                    }
                }
                Some(0..=0x1f) => return Err(NotJson(self.i)),
                Some(_) => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn splits_an_array_into_its_elements_verbatim() {
        let text = r#" ["a", {"b": [1, 2]} ,-0.5e+3,true,null,"\"]"] "#;
        assert_eq!(
            elements(text).unwrap(),
            [r#""a""#, r#"{"b": [1, 2]}"#, "-0.5e+3", "true", "null", r#""\"]""#]
        );
        assert_eq!(elements("[]").unwrap(), Vec::<&str>::new());
        assert_eq!(elements("[1e400]").unwrap(), ["1e400"], "no range check");
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "[",
            "[1,]",
            "[,1]",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[+1]",
            "[tru]",
            "[\"a]",
            "[\"\\x\"]",
            "[\"\\ud800\"]",
            "[\"\\udc00\"]",
            "[\"\u{1}\"]",
            "[{1:2}]",
            "[{\"a\" 2}]",
            "[1] 2",
            "{}",
        ] {
            assert!(elements(bad).is_err(), "{bad:?}");
        }
        // As deep as serde_json goes, and one level more.
        let nested = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(serde_json::from_str::<Value>(&nested(MAX_DEPTH)).is_ok());
        assert!(elements(&nested(MAX_DEPTH)).is_ok());
        assert!(serde_json::from_str::<Value>(&nested(MAX_DEPTH + 1)).is_err());
        assert!(elements(&nested(MAX_DEPTH + 1)).is_err(), "nesting past the limit");
    }

    #[test]
    fn reads_whole_numbers_as_value_does() {
        for n in ["0", "7", "18446744073709551615", "18446744073709551616", "1.0", "-1", "1e3", ""]
        {
            let value = serde_json::from_str::<Value>(n).ok();
            assert_eq!(as_u64(n), value.as_ref().and_then(Value::as_u64), "{n:?}");
        }
    }

    #[test]
    fn finds_a_member_by_its_unescaped_key() {
        let entry = r#"{"seq":12,"ts":5,"data":{"seq":99}}"#;
        assert_eq!(member(entry, "seq"), Some("12"));
        assert_eq!(member(entry, "data"), Some(r#"{"seq":99}"#));
        assert_eq!(member(entry, "nope"), None);
        assert_eq!(member(r#"{"s\u0065q": 7}"#, "seq"), Some("7"));
        assert_eq!(member(r#"{"seq":1,"seq":2}"#, "seq"), Some("2"), "the last one, as serde_json");
        assert_eq!(member("[1]", "seq"), None);
        assert_eq!(member(r#""seq""#, "seq"), None);
    }

    #[test]
    fn builds_the_tree_serde_json_builds() {
        for text in [
            r#" {"a": [1, -2, 3.5, -0, 1e2, 18446744073709551615, 18446744073709551616]} "#,
            r#"[-9223372036854775808, -9223372036854775809, 0.1, 1e-400, true, false, null]"#,
            r#"{"k\u00e9y": "\"\\\/\b\f\n\r\t\u0001\ud83d\ude00é", "k\u00e9y": 2}"#,
            r#""""#,
            "[]",
            "{}",
        ] {
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value(text).unwrap(), theirs, "{text}");
            // The same kinds of number, not only equal ones.
            assert_eq!(value(text).unwrap().to_string(), theirs.to_string(), "{text}");
        }
        assert_eq!(value("-0").unwrap().as_f64().map(f64::is_sign_negative), Some(true));
    }

    #[test]
    fn refuses_what_serde_json_refuses_when_building() {
        let nested = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for bad in [
            "",
            "1e400",
            "-1e400",
            "[1,]",
            "{\"a\":}",
            "\"\\ud800\"",
            "nul",
            "1 2",
            &nested(MAX_DEPTH + 1),
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
            assert!(value(bad).is_err(), "{bad:?}");
        }
        assert!(value(&nested(MAX_DEPTH)).is_ok());
    }

    // proptest needs OS entropy, which wasm32-unknown-unknown lacks.
    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use crate::tests::util::arb_json;
        use proptest::prelude::*;

        proptest! {
            // What serde_json writes splits into what it wrote for each element, and every
            // member of an object is found.
            #[test]
            fn agrees_with_serde_json_on_what_it_writes(items in prop::collection::vec(arb_json(), 0..5)) {
                let text = serde_json::to_string(&items).unwrap();
                let parts = elements(&text).unwrap();
                prop_assert_eq!(parts.len(), items.len());
                for (part, item) in parts.iter().zip(&items) {
                    // Verbatim (floats would not survive a parse: no `float_roundtrip`).
                    prop_assert_eq!(*part, serde_json::to_string(item).unwrap());
                    if let Value::Object(m) = item {
                        for (k, v) in m {
                            let want = serde_json::to_string(v).unwrap();
                            prop_assert_eq!(member(part, k), Some(want.as_str()));
                        }
                    }
                }
            }

            // What serde_json writes builds back into what it wrote, floats included (read
            // correctly rounded, the shortest text of a float reads back as that float).
            #[test]
            fn builds_back_what_serde_json_writes(item in arb_json()) {
                let text = serde_json::to_string(&item).unwrap();
                prop_assert_eq!(value(&text).unwrap(), item);
            }

            // Arbitrary text builds here exactly when serde_json reads it, into the same tree
            // (text with a fraction or an exponent left out of the comparison: serde_json
            // without `float_roundtrip` may read those one unit off in the last place).
            #[test]
            fn builds_exactly_what_serde_json_reads(s in "[\\[\\]{}\",:0-9eE+.\\-a-z\\\\ ]{0,24}") {
                let theirs = serde_json::from_str::<Value>(&s).ok();
                let ours = value(&s).ok();
                prop_assert_eq!(ours.is_some(), theirs.is_some(), "{:?}", s);
                if !s.contains(['.', 'e', 'E']) {
                    prop_assert_eq!(ours, theirs, "{:?}", s);
                }
            }

            // Arbitrary text is JSON here exactly when serde_json reads it as an array, the
            // range of its numbers aside: read as `IgnoredAny`, an element's number is
            // skipped, not converted. (Counting "number out of range" as accepted, as this
            // test did, also accepted "1E310", which is not an array: serde_json reports
            // the range before the type.)
            #[test]
            fn accepts_exactly_what_serde_json_accepts(s in "[\\[\\]{}\",:0-9eE+.\\-a-z\\\\ ]{0,24}") {
                let ours = elements(&s).is_ok();
                let theirs = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&s).is_ok();
                prop_assert_eq!(ours, theirs, "{:?}", s);
            }
        }
    }
}
