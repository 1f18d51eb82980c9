//! hello/src/site.rs's rules as pure functions, compiled here on the host.
#[allow(dead_code)]
#[path = "../../../hello/src/site.rs"]
mod site;

use site::Range;

#[test]
fn percent_decoding() {
    for (raw, want) in [
        (&b"/a%20b"[..], Some(&b"/a b"[..])),
        (b"/%41%4a%4A", Some(b"/AJJ")),
        (b"/%2F%2f", Some(b"///")),
        (b"/100%25", Some(b"/100%")),
        (b"/%", None),
        (b"/%4", None),
        (b"/%zz", None),
        (b"/%%41", None),
        (b"/%4g", None),
    ] {
        let mut t = raw.to_vec();
        let n = site::decode(&mut t);
        assert_eq!(
            n.map(|n| &t[..n]),
            want,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn absolute_form() {
    for (raw, want) in [
        (&b"/a"[..], &b"/a"[..]),
        (b"http://h/a/b", b"/a/b"),
        (b"http://h", b"/"),
        (b"https://h:1/", b"/"),
        (b"*", b""),
        (b"h/a", b""),
        (b"http:/a", b""),
    ] {
        let mut t = raw.to_vec();
        assert_eq!(
            site::origin(&mut t),
            want,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn if_none_match_lists_weakly() {
    let tag = b"\"abc\"";
    for (list, want) in [
        (&b"\"abc\""[..], true),
        (b"W/\"abc\"", true),
        (b"\"x\", \"abc\"", true),
        (b" , ,W/\"abc\"", true),
        (b"*", true),
        (b" * ", true),
        (b"W/*", false),
        (b"\"abcd\"", false),
        (b"abc", false),
        (b"\"ABC\"", false),
        (b"", false),
    ] {
        assert_eq!(
            site::none_match_fails(list, tag),
            want,
            "{:?}",
            String::from_utf8_lossy(list)
        );
    }
}

#[test]
fn accept_encoding_q_values() {
    for (ae, want) in [
        (&b"gzip"[..], true),
        (b"deflate, gzip;q=0.5", true),
        (b"GZip; Q=0.001", true),
        (b"x-gzip", true),
        (b"*", true),
        (b"*;q=0, gzip", true),
        (b"gzip;q=0", false),
        (b"gzip;q=0.0", false),
        (b"gzip;q=0.000", false),
        (b"gzip;q=0, *", false),
        (b"*;q=0", false),
        (b"identity", false),
        (b"br, zstd", false),
        (b"", false),
        (b"gzipped", false),
    ] {
        assert_eq!(site::gzip_ok(ae), want, "{:?}", String::from_utf8_lossy(ae));
    }
}

#[test]
fn byte_ranges() {
    for (spec, want) in [
        (&b"bytes=0-9"[..], Range::Part(0, 10)),
        (b"bytes=5-", Range::Part(5, 100)),
        (b"bytes=-5", Range::Part(95, 100)),
        (b"bytes=-500", Range::Part(0, 100)),
        (b"bytes=90-500", Range::Part(90, 100)),
        (b"bytes=99-99", Range::Part(99, 100)),
        (b"Bytes=1-1", Range::Part(1, 2)),
        (b"bytes=100-", Range::Unsatisfiable),
        (b"bytes=100-200", Range::Unsatisfiable),
        (b"bytes=-0", Range::Unsatisfiable),
        (b"bytes=99999999999999999999-", Range::Unsatisfiable),
        (b"bytes=0-99999999999999999999", Range::Part(0, 100)),
        (b"bytes=9-5", Range::Whole),
        (b"bytes=0-1,3-4", Range::Whole),
        (b"bytes=", Range::Whole),
        (b"bytes=-", Range::Whole),
        (b"bytes=a-", Range::Whole),
        (b"lines=0-1", Range::Whole),
        (b"bytes 0-1", Range::Whole),
    ] {
        assert_eq!(
            site::byte_range(spec, 100),
            want,
            "{:?}",
            String::from_utf8_lossy(spec)
        );
    }
    assert_eq!(site::byte_range(b"bytes=-1", 0), Range::Unsatisfiable);
    assert_eq!(site::byte_range(b"bytes=0-", 0), Range::Unsatisfiable);
}

#[test]
fn hash_is_the_xtasks() {
    for p in ["/", "/index.html", "/a b/%", ""] {
        assert_eq!(
            site::hash(p.as_bytes()),
            xtask::build::site::bake::hash(p.as_bytes())
        );
    }
}

/// The test site's tables as hello/src/site.rs's types (leaked: 'static).
fn test_site() -> &'static site::Site {
    let dir = super::www();
    let read = xtask::build::site::read(&dir, Some("/index.html"), Some("no-cache")).unwrap();
    // A stand-in for zopfli: any bytes at least 10% smaller will do here.
    let gzip = |b: &[u8]| -> Result<Vec<u8>, xtask::Error> { Ok(b[..b.len() / 2].to_vec()) };
    let b = xtask::build::site::bake::bake(&read, &gzip).unwrap();
    let keys: Vec<site::Key> = b
        .keys
        .iter()
        .map(|k| site::Key {
            path: k.path,
            len: k.len,
            kind: k.kind,
            plain: k.plain,
            gzip: k.gzip,
        })
        .collect();
    let vars: Vec<site::Var> = b
        .vars
        .iter()
        .map(|v| site::Var {
            body: v.body,
            len: v.len,
            head: v.head,
            val: v.val,
            rep: v.rep,
            rep_len: v.rep_len,
        })
        .collect();
    Box::leak(Box::new(site::Site {
        slots: b.slots.leak(),
        keys: keys.leak(),
        vars: vars.leak(),
        text: b.text.leak(),
        content: b.content.leak(),
        not_found: b.not_found,
        fallback: b.fallback,
    }))
}

/// Hostile targets and values, byte by byte as serve's parser hands them
/// over: never a panic (one would end a serve process and every connection
/// it holds), and every answer's head and body within its copy.
#[test]
fn hostile_requests_never_panic() {
    let s = test_site();
    let pieces: &[&[u8]] = &[
        b"/",
        b"/index.html",
        b"/docs",
        b"/docs/",
        b"%",
        b"%2f",
        b"%zz",
        b"%00",
        b"..",
        b"?",
        b"http://",
        b"h",
        b",",
        b" ",
        b"\t",
        b"W/",
        b"*",
        b"\"",
        b"bytes=",
        b"-",
        b"0",
        b"9",
        b"4294967295",
        b"99999999999999999999999",
        b"gzip",
        b";q=0",
        b";q=0.5",
        b"x-gzip",
        b"=",
        b"\xff",
        b"notes.txt",
        b"/img/",
        b"dot.png",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut st = site::State::<256>::NEW;
    for case in 0..20_000 {
        st.clear();
        for field in [site::TARGET, 0, 1, 2, 3] {
            if field != site::TARGET && next(3) == 0 {
                continue;
            }
            if field != site::TARGET && next(4) == 0 {
                // A second line of the same field.
                st.line(field);
            }
            for _ in 0..next(if case % 100 == 0 { 400 } else { 8 }) {
                for &b in pieces[next(pieces.len())] {
                    st.byte(field, b);
                }
            }
        }
        st.answer(s, next(2) == 0);
        let a = st.answer;
        let var = &s.vars[a.var as usize];
        assert!(a.start <= a.end && a.end <= var.len, "{a:?}");
        let mut num = [0u8; 96];
        let (parts, body) = site::head(s, &a, &mut num);
        assert_eq!(body.len() as u32, a.end - a.start);
        assert!(parts[3].ends_with(b"Date: "));
    }
}
