//! `serve`: the smallest Docker web server. It serves one page, baked in at
//! build time, to every `GET` and `HEAD`, on TCP port 8080 (or the one built
//! in), on every IPv4 and IPv6 address through one dual-stack socket.
//! Built with `--site DIR` (`cfg(serve_site)`), it serves a whole static site
//! instead, by path: 301, 404, ETag and 304, gzip, ranges (hello/src/site.rs,
//! docs/site.md); the rest of what follows holds for both.
//!
//! HTTP/1.1 as curl, browsers, wrk and ab speak it (RFC 9112):
//! - `GET` or `HEAD`, any path: `200` with Content-Type, Content-Length and
//!   Date (and the page, for `GET`). HTTP/1.1 connections stay open and
//!   pipelined requests are answered in order; `close` in Connection closes;
//!   HTTP/1.0 closes unless it asks for `keep-alive`. Connection,
//!   Content-Length and Transfer-Encoding are read as lists.
//! - Request bodies are framed as RFC 9112 section 6 says: a Content-Length
//!   body is read and discarded, a chunked one decoded and discarded, before
//!   the answer. Transfer-Encoding with Content-Length, a Content-Length that is
//!   not a number, or two that differ: `400`. Another transfer coding: `501`.
//!   A body over [`MAX_BODY`]: `413`.
//! - Refused, then closed: a malformed request line or header line, an
//!   HTTP/1.1 request without `Host`, or any with two, or with one that is
//!   not `uri-host [ ":" port ]` (`400`); bytes that cannot begin a request
//!   line, such as a TLS ClientHello (`400` at once);
//!   a request line longer than [`MAX_HEAD`] (`414`), a longer head (`431`);
//!   any method but GET and HEAD (`405`). Every error closes gracefully: FIN,
//!   then what the client still sends is read and dropped.
//! - `serve health` (one argument, read from /proc/self/cmdline) is the
//!   container's health check: `GET /` on 127.0.0.1 at the built-in port, exit
//!   0 on a `200` and 1 otherwise, within 2 s.
//!
//! Design: one event loop per CPU. The first process listens, forks one worker
//! per further CPU, and serves as well; each process waits in `epoll` on a
//! listening socket of its own on the port (SO_REUSEPORT: the kernel spreads
//! new connections over them by address), a signalfd, and its connections,
//! edge-triggered. A connection is a slot in a
//! table indexed by its descriptor (state, bytes held, bytes sent, deadline);
//! a slow or idle client holds its slot and descriptor, never a process. A
//! response is the built-in head, a Date line and the page, sent with `writev`
//! from where the last write stopped. Deadlines measure progress: a client has
//! [`IDLE`] seconds for each request head; a body or a response goes on while
//! bytes move, and is closed after [`IDLE`] seconds without.
//!
//! Signals: SIGTERM or SIGINT stops accepting at once, closes every connection
//! that is not mid-response, gives those [`STOP_MS`] to finish, and exits 0;
//! the first process passes the signal to the workers and waits for them
//! (each worker also dies with it: PR_SET_PDEATHSIG). SIGPIPE is ignored.
//!
//! Exit statuses: 0 on SIGTERM or SIGINT; when it cannot listen, the errno of
//! the call that failed (98 `EADDRINUSE`: the port is taken, by anything,
//! another serve included; 13 `EACCES`: a
//! port below 1024 without the privilege; 97 `EAFNOSUPPORT`: no IPv6); 2 for
//! an argument other than `health`.
#![no_std]
#![no_main]
#![deny(unsafe_code)] // `_start`'s attribute and the mapped tables opt in

// The library brings the panic handler and the system calls (src/sys/), which
// every architecture built has.
use hello as _;

// `#[cfg_attr(not(target_arch = "powerpc64"), inline(never))]`: on ppc64 each
// function outlined costs a TOC set-up, a 12-byte traceback table and one
// register saved per `std` (no store-pair), so inlined it is 448 bytes smaller
// with xtask/src/build/serve.rs's inline threshold; elsewhere one copy is smaller.
mod server {
    use core::mem::MaybeUninit;

    /// Whether byte string `$set` holds byte `$b`: `contains`, but for
    /// linux/arm/v5 (`cfg(armv5)`), where `contains` would call core's
    /// precompiled `memchr`, ARMv6-M code the ARM926EJ-S cannot run
    /// (hello/src/armv5.rs); there a loop compiled with this crate.
    #[cfg(not(armv5))]
    macro_rules! has {
        ($set:expr, $b:expr) => {
            $set.contains(&$b)
        };
    }
    #[cfg(armv5)]
    macro_rules! has {
        ($set:expr, $b:expr) => {
            $set.iter().any(|&c| c == $b)
        };
    }
    use hello::sys::{self, Action, EAGAIN, EpollEvent, IoVec, SigAction};

    /// The longest request head (request line and headers): 8 KiB, the size of
    /// nginx's large header buffers; enough for a browser's request with cookies.
    /// The parser reads a head byte by byte as it arrives and keeps none of it,
    /// so this bounds time, not memory.
    const MAX_HEAD: u32 = 8 * 1024;
    /// Seconds without progress before a connection is closed: to send a request
    /// head (counted from its start), or to take the next bytes of a body or a
    /// response. Deadlines are checked once a second, so it closes after
    /// `IDLE` to `IDLE + 2` seconds.
    const IDLE: u32 = 10;
    /// The largest request body read (and dropped): 1 MiB, nginx's
    /// client_max_body_size. A larger one gets `413`. A chunked body counts its
    /// framing too.
    const MAX_BODY: u32 = 1 << 20;
    /// Bytes one `read` takes. What a client pipelines behind a request whose
    /// response is still going out waits in its slot's buffer of this size,
    /// touched (made memory) only then.
    const READ: usize = 8 * 1024;
    /// The most connections one process holds: its slot table's size. The soft
    /// descriptor limit is raised to the hard one, up to this.
    const MAX_CONN: u64 = 1 << 16;
    /// The most processes: one per CPU, up to this.
    const MAX_WORKERS: usize = 16;
    /// Milliseconds a response under way has to finish after SIGTERM, counted
    /// in the loop's 1/1024 s (so 488 ms).
    const STOP_MS: u64 = 500;
    /// Connections the kernel queues before `accept`; it caps this at
    /// net.core.somaxconn.
    const BACKLOG: u32 = 4096;
    /// SIGTERM and SIGINT, as a signal mask (bit n - 1 for signal n).
    const STOP: u64 = 1 << (sys::SIGTERM - 1) | 1 << (sys::SIGINT - 1);

    /// The 200 response's status line and headers (`Content-Type`,
    /// `Content-Length`), ending in `Date: `; written by build.rs.
    #[cfg(not(serve_site))]
    static HEAD: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/serve-head.bin")).len()] =
        *include_bytes!(concat!(env!("OUT_DIR"), "/serve-head.bin"));
    /// The page.
    #[cfg(not(serve_site))]
    static PAGE: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/serve-page.bin")).len()] =
        *include_bytes!(concat!(env!("OUT_DIR"), "/serve-page.bin"));
    /// With `--site`: the site's tables (`SITE`), the request target's room
    /// (`TARGET`) and the health check's request (`HEALTH`), written by the
    /// xtask (xtask/src/build/site/bake.rs); hello/src/site.rs reads them.
    #[cfg(serve_site)]
    mod baked {
        include!(concat!(env!("OUT_DIR"), "/site.rs"));
    }
    #[cfg(serve_site)]
    use hello::site;

    /// The TCP port, big-endian.
    const PORT: [u8; 2] = *include_bytes!(concat!(env!("OUT_DIR"), "/serve-port.bin"));

    /// What follows an error's status line, up to the date.
    const ERROR_HEAD: &[u8] = b"Content-Length: 0\r\nDate: ";
    /// The ends of a response head, after the date: the connection closes, stays
    /// open (HTTP/1.1), or stays open as an HTTP/1.0 client asked.
    /// `Connection: close` and CR LF (`..CLOSE_LEN`), `Connection: keep-alive`
    /// and CR LF (`CLOSE_LEN..`), whose last two bytes are the plain end.
    const TAILS: &[u8] = b"Connection: close\r\n\r\nConnection: keep-alive\r\n\r\n";
    const CLOSE_LEN: usize = 21;

    /// What a slot's connection is doing (`state`). `FREE` is zero: a fresh
    /// table is all free.
    const FREE: u8 = 0;
    /// Reading a request (its head, then its body), `p` saying where.
    const READING: u8 = 1;
    /// Sending the response `reply`, `sent` bytes of it so far.
    const SEND: u8 = 2;
    /// After an error: FIN sent; reading and dropping until the client closes.
    const LINGER: u8 = 3;

    /// Responses (`reply`): the 200, then the errors.
    const OK: u8 = 0;
    const BAD_REQUEST: u8 = 1;
    const NOT_ALLOWED: u8 = 2;
    const TOO_LARGE: u8 = 3;
    const URI_TOO_LONG: u8 = 4;
    const HEAD_TOO_LARGE: u8 = 5;
    const NOT_IMPLEMENTED: u8 = 6;

    /// `flags`: the method was HEAD (no body sent); the connection closes after
    /// this response; an HTTP/1.0 client asked to keep it open.
    const HEAD_ONLY: u8 = 1;
    const CLOSES: u8 = 2;
    const KEEPS_1_0: u8 = 4;

    /// Where the parser is in a request (`p`), RFC 9112's grammar: the method
    /// (one empty line may come before it), the target, the version; a field
    /// name (at `pos` 0, the start of a header line, or the empty line that
    /// ends the head), its value. Then a body: a chunk size, a chunk extension,
    /// data (`body` bytes, also a Content-Length body), the line end after it,
    /// a trailer line's field name (at `pos` 0, its start), its value. Zero is
    /// a new request. Each state's token ends at its byte in `SEP` (`\n`:
    /// none) and takes the bytes of its class in `CLASS`; its first byte starts
    /// matching the words in `SET`.
    const P_METHOD: u8 = 0;
    const P_TARGET: u8 = 1;
    const P_VERSION: u8 = 2;
    const P_NAME: u8 = 3;
    const P_VALUE: u8 = 4;
    const P_SIZE: u8 = 5;
    const P_EXT: u8 = 6;
    const P_DATA: u8 = 7;
    const P_DATA_END: u8 = 8;
    const P_TRAILER: u8 = 9;
    const P_TRAILER_LINE: u8 = 10;
    // A separator moves a state on to the next one.
    const _: () = assert!(
        P_TARGET == P_METHOD + 1
            && P_VERSION == P_TARGET + 1
            && P_VALUE == P_NAME + 1
            && P_EXT == P_SIZE + 1
            && P_TRAILER_LINE == P_TRAILER + 1
    );
    /// Not a state: what a byte no state takes gives (400).
    const P_BAD: u8 = 11;
    const SEP: &[u8; 11] = b"  \n:\n;\n\n\n:\n";
    const CLASS: [u8; 11] = [
        C_TOKEN, C_VISIBLE, C_VISIBLE, C_TOKEN, C_FIELD, C_HEX, C_FIELD, 0, 0, C_TOKEN, C_FIELD,
    ];
    const SET: [u32; 5] = [METHODS, 0, VERSIONS, NAMES, VALUES];
    /// A byte's classes: a token's (RFC 9110 tchar), visible ASCII, a field
    /// value's (visible, space, tab, obs-text), a hex digit.
    const C_TOKEN: u8 = 1;
    const C_VISIBLE: u8 = 2;
    const C_FIELD: u8 = 4;
    const C_HEX: u8 = 8;

    /// The words the parser looks for, each ending in NUL: methods and versions
    /// (matched exactly), then field names and values (matched without case).
    /// Bit k of `m` is the k-th word.
    #[cfg(not(serve_site))]
    const WORDS: &[u8] = b"GET\0HEAD\0HTTP/1.0\0HTTP/1.1\0host\0connection\0content-length\0\
        transfer-encoding\0close\0keep-alive\0chunked\0";
    /// A site also reads the four fields it keeps (`site::State`), bits 11 to 14.
    #[cfg(serve_site)]
    const WORDS: &[u8] = b"GET\0HEAD\0HTTP/1.0\0HTTP/1.1\0host\0connection\0content-length\0\
        transfer-encoding\0close\0keep-alive\0chunked\0if-none-match\0range\0accept-encoding\0\
        if-range\0";
    /// Where each word of WORDS starts, found at compile time.
    const STARTS: [u8; 16] = {
        let (mut out, mut i, mut k) = ([0u8; 16], 0, 1);
        while i < WORDS.len() {
            if WORDS[i] == 0 && k < out.len() {
                out[k] = (i + 1) as u8;
                k += 1;
            }
            i += 1;
        }
        out
    };
    #[cfg(serve_site)]
    const SITE_NAMES: u32 = 0xf << 11;
    #[cfg(not(serve_site))]
    const SITE_NAMES: u32 = 0;
    const W_GET: u32 = 1;
    const W_HEAD: u32 = 2;
    const W_HTTP10: u32 = 4;
    const W_HTTP11: u32 = 8;
    const W_HOST: u32 = 16;
    const W_CONNECTION: u32 = 32;
    const W_CONTENT_LENGTH: u32 = 64;
    const W_TRANSFER_ENCODING: u32 = 128;
    const W_CLOSE: u32 = 256;
    const W_KEEP_ALIVE: u32 = 512;
    const W_CHUNKED: u32 = 1024;
    const METHODS: u32 = W_GET | W_HEAD;
    const VERSIONS: u32 = W_HTTP10 | W_HTTP11;
    const NAMES: u32 = W_HOST | W_CONNECTION | W_CONTENT_LENGTH | W_TRANSFER_ENCODING | SITE_NAMES;
    const VALUES: u32 = W_CLOSE | W_KEEP_ALIVE | W_CHUNKED;

    /// What the parser has seen of a request (`seen`). Where a word says it,
    /// the bit is the word's, so a matched word is or-ed in as it is.
    const IS_GET: u32 = W_GET;
    const IS_HEAD: u32 = W_HEAD;
    const HTTP11: u32 = W_HTTP11;
    const CONN_CLOSE: u32 = W_CLOSE;
    const CONN_KEEP: u32 = W_KEEP_ALIVE;
    const CHUNKED: u32 = W_CHUNKED;
    const HOST: u32 = 1 << 11;
    const HOSTS: u32 = 1 << 12;
    const TE_BAD: u32 = 1 << 13;
    /// A CR came: the next byte must be LF.
    const CR: u32 = 1 << 14;
    /// A space or tab came after a value's first byte.
    const WS: u32 = 1 << 15;
    /// `num` when the value is not a number.
    const NOT_NUM: u32 = u32::MAX;

    /// Where a field value is as a Host, RFC 9112 section 3.2 (`uri-host [ ":"
    /// port ]`, RFC 3986 section 3.2.2): nothing yet, in a reg-name or IPv4
    /// address, after an IPv6 literal's `]`, in the port; in the literal, and
    /// invalid (these two, and only these, are not a Host).
    const H_START: u8 = 0;
    const H_NAME: u8 = 1;
    const H_END: u8 = 2;
    const H_PORT: u8 = 3;
    const H_V6: u8 = 4;
    const H_BAD: u8 = 5;
    /// Added to the state by a space after the Host began: valid at the line's
    /// end, `H_BAD` before any other byte (no state has this bit).
    const H_SPACE: u8 = 8;

    /// One connection: plain data, all zero when free.
    #[repr(C)]
    struct Slot {
        state: u8,
        reply: u8,
        flags: u8,
        /// Where the request's parser is; zero for a new request.
        p: u8,
        /// Bytes held in the slot's buffer (what the client sent after a request
        /// whose response is still going out), and how many of them are read.
        held: u16,
        off: u16,
        /// Monotonic second at which the connection is closed.
        deadline: u32,
        /// Bytes of the response sent.
        sent: u32,
        /// The response's Date, in seconds since 1970, fixed when it starts.
        date: u32,
        req: Req,
        #[cfg(serve_site)]
        site: site::State<{ baked::TARGET }>,
    }

    /// What the parser keeps of the request so far: all zero for a new one.
    #[derive(Clone, Copy)]
    #[repr(C)]
    struct Req {
        seen: u32,
        /// The words still matching the current token, and those its field
        /// name matched.
        m: u32,
        name: u32,
        /// Bytes of the current token; of the head so far.
        pos: u32,
        head: u32,
        /// Where the current field value is as a Host (`H_*`).
        host: u8,
        /// The current field value as a number (saturating past MAX_BODY), or NOT_NUM.
        num: u32,
        /// Content-Length plus one; 0 when there is none.
        length: u32,
        /// Body bytes still to skip (Content-Length, or the current chunk).
        body: u32,
        /// Chunked: bytes of the body so far, framing included.
        total: u32,
    }

    const NEW: Req = Req {
        seen: 0,
        m: 0,
        name: 0,
        pos: 0,
        head: 0,
        host: H_START,
        num: 0,
        length: 0,
        body: 0,
        total: 0,
    };

    /// A free slot: all zero, as a fresh table is. `close` leaves every slot so,
    /// so the next connection on its descriptor starts clean (no buffer offset,
    /// bytes sent or parser state of the last one).
    const FREE_SLOT: Slot = Slot {
        state: FREE,
        reply: 0,
        flags: 0,
        p: P_METHOD,
        held: 0,
        off: 0,
        deadline: 0,
        sent: 0,
        date: 0,
        req: NEW,
        #[cfg(serve_site)]
        site: site::State::NEW,
    };

    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    #[repr(align(32))]
    struct Align32(#[allow(dead_code)] u8);

    /// A failed setup call's result as the exit status (its errno). One copy of
    /// the exit, not one per call.
    #[inline(never)]
    fn check(ret: isize) -> u32 {
        if ret < 0 {
            sys::exit(ret.unsigned_abs() as u32)
        }
        ret as u32
    }

    /// The process entry point: the kernel jumps here with nothing set up but a stack.
    #[allow(unsafe_code)]
    // SAFETY: `_start` is the one symbol of that name in the program (no C runtime is
    // linked), so exporting it unmangled cannot clash with another definition.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start() -> ! {
        // x86-64 (x86) enters `_start` with the stack 16-byte aligned, where code
        // after a call expects it 8 (4) past that; LLVM's -stackrealign does not reach
        // rustc's functions. A 32-byte-aligned local makes LLVM realign this
        // frame in the prologue, so its aligned 16-byte stores are aligned, and
        // so is every frame below it.
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        core::hint::black_box(&mut Align32(0));
        arguments();
        // SIGTERM and SIGINT wait for the loop's signalfd; workers inherit this.
        sys::block_signals(STOP);
        sys::sigaction(sys::SIGPIPE, &SigAction::new(Action::Ignore));
        // Descriptors are what connections cost: take all the hard limit allows.
        let mut nofile = [0u64; 2];
        sys::prlimit(sys::RLIMIT_NOFILE, None, Some(&mut nofile));
        nofile[0] = nofile[1].min(MAX_CONN);
        sys::prlimit(sys::RLIMIT_NOFILE, Some(&nofile), None);
        // Descriptors above the soft limit cannot exist: one slot each below it.
        let slots = nofile[0] as usize;

        // The first listener binds without SO_REUSEPORT, so the port must be
        // free: nothing else may listen on it, not even another serve (whose
        // SO_REUSEPORT listeners these would otherwise join).
        let listener = listening(0);

        // One process per CPU this one may run on.
        let mut mask = [0u64; 4];
        sys::cpus(&mut mask);
        // Bit by bit: `count_ones` without POPCNT is a longer routine.
        let cpus = (0..256).map(|i| mask[i / 64] >> (i % 64) & 1).sum::<u64>();
        let mut workers = [0u32; MAX_WORKERS];
        let mut n = 0;
        let first = sys::getpid();
        while n + 1 < (cpus as usize).min(MAX_WORKERS) {
            // Each worker gets a listener of its own on the port, made here
            // so that its errors are the exit status: the kernel spreads new
            // connections over them by address. One shared listener let the
            // process that woke first take a whole burst: wrk's 100
            // connections split 100 to 0, 92 to 8, 9 to 91.
            let own = listening(1);
            let pid = sys::fork();
            if pid == 0 {
                // A worker ends with the first process, whatever ends that;
                // if that came before this line took effect, it ends now.
                sys::parent_death_signal(sys::SIGKILL);
                if sys::getppid() != first {
                    sys::exit(0)
                }
                sys::close(listener);
                serve(own, slots, &[]);
                sys::exit(0)
            }
            // Only its worker may hold it: a listener no process serves would
            // keep its share of connections waiting forever, and one whose
            // worker dies must close with it.
            sys::close(own);
            if pid < 0 {
                // Out of processes: the ones there are serve every connection.
                break;
            }
            workers[n] = pid as u32;
            n += 1;
        }
        serve(listener, slots, &workers[..n]);
        while sys::wait_child() > 0 {}
        sys::exit(0)
    }

    /// A non-blocking dual-stack socket listening on the built-in port of
    /// every address, with SO_REUSEPORT set to `reuse_port` while it binds and
    /// on after (so the workers' listeners can join it); exits with the errno
    /// when it cannot listen.
    fn listening(reuse_port: u32) -> u32 {
        let socket = check(sys::socket(
            sys::AF_INET6,
            sys::SOCK_STREAM | sys::SOCK_NONBLOCK,
            0,
        ));
        // Four options no new TCP socket refuses (valid levels, names and
        // sizes), so their results are not checked (tests/serve/ reaches the
        // server over both IPv4 and IPv6, which the third one makes possible).
        // A restarted server can bind while old connections sit in TIME_WAIT.
        sys::setsockopt(socket, sys::SOL_SOCKET, sys::SO_REUSEADDR, &1u32);
        // Every process listens on the port (each its own socket).
        sys::setsockopt(socket, sys::SOL_SOCKET, sys::SO_REUSEPORT, &reuse_port);
        // Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d, whatever the
        // net.ipv6.bindv6only default is.
        sys::setsockopt(socket, sys::IPPROTO_IPV6, sys::IPV6_V6ONLY, &0u32);
        // Pipelined responses go out at once, not after the previous one's ACK;
        // Linux copies it to every accepted socket.
        sys::setsockopt(socket, sys::IPPROTO_TCP, sys::TCP_NODELAY, &1u32);
        check(sys::bind(socket, &sys::sockaddr_in6_any(PORT)));
        // Linux checks SO_REUSEPORT at bind for the port's other sockets, and
        // at listen to group the listeners that share it.
        sys::setsockopt(socket, sys::SOL_SOCKET, sys::SO_REUSEPORT, &1u32);
        check(sys::listen(socket, BACKLOG));
        socket
    }

    /// Reads the arguments from /proc/self/cmdline (argv, each ending in NUL):
    /// none returns, `health` runs the health check; anything else exits 2.
    /// Without /proc there are no arguments to read: it serves.
    fn arguments() {
        let fd = sys::open(c"/proc/self/cmdline");
        if fd < 0 {
            return;
        }
        // Counts the NULs (one per argument, argv[0] included) and keeps the
        // last 8 bytes, however long argv[0] is.
        let (mut nuls, mut tail) = (0, 0u64);
        let mut chunk = [0u8; 64];
        loop {
            let n = sys::read(fd as u32, &mut chunk);
            if n <= 0 {
                break;
            }
            for &b in chunk.iter().take(n as usize) {
                nuls += u32::from(b == 0);
                tail = tail << 8 | u64::from(b);
            }
        }
        sys::close(fd as u32);
        if nuls == 2 && tail == u64::from_be_bytes(*b"\0health\0") {
            health();
        }
        if nuls > 1 {
            hello::write_all(2, b"usage: serve [health]\n");
            sys::exit(2)
        }
    }

    /// `GET /` on 127.0.0.1 at the built-in port: exits 0 on a 200, else 1.
    /// Connecting and reading may each take 900 ms (SO_SNDTIMEO also bounds
    /// `connect`), so it ends within 2 s.
    fn health() -> ! {
        let fd = sys::socket(sys::AF_INET, sys::SOCK_STREAM, 0) as u32;
        // struct timeval: seconds, microseconds, each a `long`.
        let timeout: [usize; 2] = [0, 900_000];
        sys::setsockopt(fd, sys::SOL_SOCKET, sys::SO_SNDTIMEO, &timeout);
        sys::setsockopt(fd, sys::SOL_SOCKET, sys::SO_RCVTIMEO, &timeout);
        let mut got = [0u8; 12];
        #[cfg(not(serve_site))]
        let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        // A site's own path: `/`, or its first file when it has no index.html.
        #[cfg(serve_site)]
        let request = baked::HEALTH;
        let ok = sys::connect(fd, &sys::sockaddr_in_loopback(PORT)) == 0
            && hello::write_all(fd, request)
            && sys::read(fd, &mut got) == 12
            && got == *b"HTTP/1.1 200";
        sys::exit(u32::from(!ok))
    }

    /// The whole (zeroed) memory of one process's loop, from the kernel: the
    /// slot table, one buffer per slot, and the buffer every read goes to. The
    /// pages become memory only where written.
    #[allow(unsafe_code)]
    fn tables(slots: usize) -> (&'static mut [Slot], &'static mut [u8]) {
        let bytes = slots * (size_of::<Slot>() + READ) + READ;
        let addr = sys::mmap_anonymous(bytes);
        // -4095..=-1 is -errno (ENOMEM): exit with it. Anything else is the
        // address, which on a 32-bit architecture may be above 2 GiB: negative.
        check(if addr >= -4095 { addr.min(0) } else { 0 });
        let addr = addr as usize;
        // SAFETY: the kernel just mapped `bytes` readable and writable bytes at
        // `addr` (`check` exits on an error), page aligned (so aligned for Slot,
        // whose fields are integers), zero-filled and used by nothing else; all
        // zero bytes are a valid Slot and valid u8. The two slices do not overlap
        // (the buffers start after `slots` slots), the mapping is never unmapped,
        // so 'static holds, and these are the only references to it.
        unsafe {
            (
                core::slice::from_raw_parts_mut(addr as *mut Slot, slots),
                core::slice::from_raw_parts_mut(
                    (addr + slots * size_of::<Slot>()) as *mut u8,
                    (slots + 1) * READ,
                ),
            )
        }
    }

    /// One process's event loop, until a stop signal and its connections are
    /// done. `workers` (the first process's) get the signal passed on.
    fn serve(listener: u32, slots: usize, workers: &[u32]) {
        let ep = check(sys::epoll_create());
        let signals = check(sys::signalfd(STOP));
        watch(ep, sys::EPOLL_CTL_ADD, signals, sys::EPOLLIN);
        let listen = |op| watch(ep, op, listener, sys::EPOLLIN);
        listen(sys::EPOLL_CTL_ADD);
        let (slots, buffers) = tables(slots);
        let (scratch, buffers) = buffers.split_at_mut(READ);

        let mut events = [const { MaybeUninit::<EpollEvent>::uninit() }; 64];
        let mut open = 0u32;
        // One past the highest descriptor a connection has had: where sweeps stop.
        let mut top = 0;
        let mut tick = 0;
        let mut paused = false;
        let mut stop_at = 0;
        loop {
            let n = sys::epoll_wait(ep, &mut events, if stop_at == 0 { 1000 } else { 50 });
            let [s, ns] = sys::clock(sys::CLOCK_MONOTONIC);
            // Milliseconds near enough: 1/1024 s, shifts instead of divisions.
            let ms = s << 10 | ns >> 20;
            let wall = sys::clock(sys::CLOCK_REALTIME)[0] as u32;
            let secs = s as u32;
            for event in events.iter().take(n.max(0) as usize) {
                let fd = event_fd(event);
                if fd == listener {
                    loop {
                        let c = sys::accept4(listener, sys::SOCK_NONBLOCK);
                        if c == EAGAIN {
                            break;
                        }
                        if c == sys::ECONNABORTED {
                            continue;
                        }
                        let Some(slot) = slots.get_mut(c as usize) else {
                            // Out of descriptors or memory (EMFILE, ENFILE,
                            // ENOMEM, ENOBUFS; -errno is above any index): stop
                            // listening until the next second's sweep, rather
                            // than spin on the error.
                            listen(sys::EPOLL_CTL_DEL);
                            paused = true;
                            break;
                        };
                        // Free, so all zero: a new request, nothing held.
                        slot.state = READING;
                        slot.deadline = secs + IDLE + 1;
                        watch(
                            ep,
                            sys::EPOLL_CTL_ADD,
                            c as u32,
                            sys::EPOLLIN | sys::EPOLLOUT | sys::EPOLLET,
                        );
                        open += 1;
                        top = top.max(c as usize + 1);
                    }
                } else if fd == signals {
                    // Stop: no more connections, the workers told; the sweep
                    // below closes every connection not mid-response.
                    stop_at = ms + STOP_MS;
                    tick = secs + 1;
                    sys::close(signals);
                    listen(sys::EPOLL_CTL_DEL);
                    sys::close(listener);
                    for &pid in workers {
                        sys::kill(pid, sys::SIGTERM);
                    }
                } else if let Some(slot) = slots.get_mut(fd as usize)
                    && slot.state != FREE
                {
                    let from = fd as usize * READ;
                    let buf = buffers.get_mut(from..from + READ).unwrap_or_default();
                    let at = Clock { secs, wall };
                    if !drive(fd, slot, buf, scratch, at, stop_at != 0) {
                        close(fd as usize, slot, &mut open);
                    }
                }
            }
            if stop_at != 0 && (open == 0 || ms >= stop_at) {
                return;
            }
            if secs != tick {
                tick = secs;
                for (fd, slot) in slots.iter_mut().enumerate().take(top) {
                    let stopping = stop_at != 0 && slot.state != SEND;
                    if slot.state != FREE && (slot.deadline <= secs || stopping) {
                        close(fd, slot, &mut open);
                    }
                }
                if paused && stop_at == 0 {
                    listen(sys::EPOLL_CTL_ADD);
                    paused = false;
                }
            }
        }
    }

    /// Adds `fd` to (or, with EPOLL_CTL_DEL, takes it from) the epoll set
    /// `ep`, its own number as the event's data. One copy of the call.
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn watch(ep: u32, op: u32, fd: u32, events: u32) -> isize {
        sys::epoll_ctl(ep, op, fd, events, fd as u64)
    }

    /// The descriptor an event is for (its data).
    #[allow(unsafe_code)]
    fn event_fd(event: &MaybeUninit<EpollEvent>) -> u32 {
        // SAFETY: `serve` passes only the events epoll_wait wrote.
        let event = unsafe { event.assume_init_ref() };
        // A copy: the x86-64 layout is packed, so no reference to the field.
        let data = event.data;
        data as u32
    }

    fn close(fd: usize, slot: &mut Slot, open: &mut u32) {
        sys::close(fd as u32);
        *slot = FREE_SLOT;
        *open -= 1;
    }

    /// The loop's time: monotonic seconds (for deadlines) and realtime seconds
    /// (for Date).
    #[derive(Clone, Copy)]
    struct Clock {
        secs: u32,
        wall: u32,
    }

    /// Moves a connection on as far as it goes without blocking: sends, reads,
    /// parses. False when it should be closed.
    fn drive(
        fd: u32,
        slot: &mut Slot,
        buf: &mut [u8],
        scratch: &mut [u8],
        at: Clock,
        stopping: bool,
    ) -> bool {
        let deadline = at.secs + IDLE + 1;
        loop {
            if slot.state == SEND {
                if slot.sent == 0 {
                    slot.date = at.wall;
                    slot.deadline = deadline;
                }
                let (n, total) = send(fd, slot);
                if n == EAGAIN {
                    return true;
                }
                if n < 0 {
                    return false;
                }
                // Bytes moved: progress.
                slot.sent += n as u32;
                slot.deadline = deadline;
                if (slot.sent as usize) < total {
                    continue;
                }
                slot.sent = 0;
                if slot.flags & CLOSES != 0 {
                    sys::shutdown(fd, sys::SHUT_WR);
                    slot.state = LINGER;
                    continue;
                }
                if stopping {
                    return false;
                }
                // The next request: it has IDLE seconds from now.
                slot.state = READING;
                slot.p = P_METHOD;
                slot.req = NEW;
                #[cfg(serve_site)]
                slot.site.clear();
            }
            if slot.held > 0 && slot.state == READING {
                let (off, held) = (slot.off as usize, slot.held as usize);
                let used = feed(slot, buf.get(off..held).unwrap_or_default());
                slot.off += used as u16;
                if slot.off == slot.held {
                    (slot.off, slot.held) = (0, 0);
                }
                continue;
            }
            let n = sys::read(fd, scratch);
            if n == EAGAIN {
                return true;
            }
            if n <= 0 {
                return false;
            }
            if slot.state == LINGER {
                continue;
            }
            if slot.p >= P_SIZE {
                // A body moves: progress.
                slot.deadline = deadline;
            }
            let data = scratch.get(..n as usize).unwrap_or_default();
            let used = feed(slot, data);
            // What follows a request whose response has to wait: kept.
            let rest = data.get(used..).unwrap_or_default();
            for (d, s) in buf.iter_mut().zip(rest) {
                *d = *s;
            }
            slot.held = rest.len() as u16;
        }
    }

    /// Sends what is left of the slot's response: (the `writev` result, the
    /// response's whole length).
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn send(fd: u32, slot: &Slot) -> (isize, usize) {
        let date = date(slot.date);
        // One string each for the ends and the error status lines: slices of
        // them cost fewer bytes than a table of separate strings.
        let tail = if slot.flags & CLOSES != 0 {
            &TAILS[..CLOSE_LEN]
        } else if slot.flags & KEEPS_1_0 != 0 {
            &TAILS[CLOSE_LEN..]
        } else {
            &TAILS[TAILS.len() - 2..]
        };
        #[cfg(serve_site)]
        return send_site(fd, slot, &date, tail);
        #[cfg(not(serve_site))]
        {
            let r = slot.reply as usize;
            // Every response begins as the 200's head does: `HTTP/1.1 `.
            let (version, rest) = HEAD.split_at(9);
            let (first, second, body): (&[u8], &[u8], &[u8]) = if r == OK as usize {
                (
                    rest,
                    &[],
                    if slot.flags & HEAD_ONLY != 0 {
                        &[]
                    } else {
                        &PAGE
                    },
                )
            } else {
                let start = STATUS_END[r - 1] as usize;
                let end = STATUS_END[r] as usize;
                (STATUS.get(start..end).unwrap_or_default(), ERROR_HEAD, &[])
            };
            let mut skip = slot.sent as usize;
            let mut total = 0;
            let iov = [version, first, second, &date[..], tail, body].map(|part| {
                let s = skip.min(part.len());
                skip -= s;
                total += part.len();
                IoVec::new(part.get(s..).unwrap_or_default())
            });
            (sys::writev(fd, &iov), total)
        }
    }

    /// [`send`] for a site: `HTTP/1.1 `, then the answer's status line,
    /// validators, representation headers and lengths (or an error's status
    /// line), the date, the end, and the (part of the) file.
    #[cfg(serve_site)]
    fn send_site(fd: u32, slot: &Slot, date: &[u8], tail: &[u8]) -> (isize, usize) {
        let r = slot.reply as usize;
        let mut num = [0u8; 96];
        let ([a, b, c, d], body) = if r == OK as usize {
            site::head(&baked::SITE, &slot.site.answer, &mut num)
        } else {
            let start = STATUS_END[r - 1] as usize;
            let end = STATUS_END[r] as usize;
            (
                [
                    STATUS.get(start..end).unwrap_or_default(),
                    ERROR_HEAD,
                    &[],
                    &[],
                ],
                &[][..],
            )
        };
        let body = if slot.flags & HEAD_ONLY != 0 {
            &[]
        } else {
            body
        };
        let mut skip = slot.sent as usize;
        let mut total = 0;
        let iov = [b"HTTP/1.1 ", a, b, c, d, date, tail, body].map(|part| {
            let s = skip.min(part.len());
            skip -= s;
            total += part.len();
            IoVec::new(part.get(s..).unwrap_or_default())
        });
        (sys::writev(fd, &iov), total)
    }

    /// The error status lines after `HTTP/1.1 ` (and, for 405, the Allow
    /// header), in `reply` order from BAD_REQUEST; `STATUS_END[r]` is where
    /// reply `r`'s ends.
    const STATUS: &[u8] = b"400 Bad Request\r\n\
        405 Method Not Allowed\r\nAllow: GET, HEAD\r\n\
        413 Content Too Large\r\n\
        414 URI Too Long\r\n\
        431 Request Header Fields Too Large\r\n\
        501 Not Implemented\r\n";
    const STATUS_END: [u8; 7] = {
        let mut ends = [0u8; 7];
        let (mut i, mut k) = (0, 1);
        while i < STATUS.len() {
            if STATUS[i] == b'\n' && (i + 1 == STATUS.len() || STATUS[i + 1].is_ascii_digit()) {
                ends[k] = i as u8 + 1;
                k += 1;
            }
            i += 1;
        }
        ends
    };

    /// `secs` (since 1970) as an IMF-fixdate (RFC 9110 section 5.6.7) and CR LF:
    /// `Sun, 06 Nov 1994 08:49:37 GMT`. Years and months are counted off one by
    /// one: a few dozen steps, fewer bytes than the closed formulas.
    /// Out of line, so that docs/serve.md's table shows what the Date costs
    /// (inlined into `send` it is the same size on amd64).
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn date(secs: u32) -> [u8; 31] {
        const NAMES: &[u8; 57] = b"ThuFriSatSunMonTueWedJanFebMarAprMayJunJulAugSepOctNovDec";
        const LENGTHS: &[u8; 12] = &[31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT\r\n";
        let mut days = secs / 86400;
        let day = (days % 7) as usize;
        let mut year = 1970;
        // Leap years up to 2099 are the multiples of 4.
        while days >= 365 + u32::from(year % 4 == 0) {
            days -= 365 + u32::from(year % 4 == 0);
            year += 1;
        }
        let mut month = 0;
        for (m, &len) in LENGTHS.iter().enumerate() {
            let len = u32::from(len) + u32::from(m == 1 && year % 4 == 0);
            if days < len {
                break;
            }
            days -= len;
            month += 1;
        }
        for i in 0..3 {
            out[i] = NAMES[day * 3 + i];
            out[8 + i] = NAMES[21 + month.min(11) * 3 + i];
        }
        // Each number's digits, last first: (place in `out`, radix).
        digits(
            &mut out,
            &[(24, 10), (23, 6), (21, 10), (20, 6), (18, 10), (17, 10)],
            secs % 86400,
        );
        digits(&mut out, &[(6, 10), (5, 10)], days + 1);
        digits(&mut out, &[(15, 10), (14, 10), (13, 10), (12, 10)], year);
        out
    }

    /// Writes `n`'s digits at the places in `out`, dividing by each radix in turn
    /// (10 and 6 for minutes and seconds): one loop for every field of the date.
    #[inline(never)]
    fn digits(out: &mut [u8; 31], places: &[(u8, u8)], mut n: u32) {
        for &(at, radix) in places {
            let radix = u32::from(radix.max(1));
            if let Some(o) = out.get_mut(at as usize) {
                *o = b'0' + (n % radix) as u8;
            }
            n /= radix;
        }
    }

    /// Reads what `data` holds for the slot's request, up to a response to send
    /// (or all of it); returns how many bytes it used.
    fn feed(s: &mut Slot, data: &[u8]) -> usize {
        let mut at = 0;
        while at < data.len() && s.state == READING {
            let r = &mut s.req;
            if s.p == P_DATA {
                let n = (r.body as usize).min(data.len() - at);
                at += n;
                r.body -= n as u32;
                r.total += n as u32;
                if r.body == 0 {
                    if r.seen & CHUNKED != 0 {
                        s.p = P_DATA_END;
                    } else {
                        s.state = SEND;
                    }
                }
            } else {
                step(s, data[at]);
                at += 1;
            }
        }
        at
    }

    /// The words of `m` (bits) that have `c` at `pos`, or with `c` = 0, that end
    /// there. `lower` is 0x20 to match without case. Only `m`'s words are
    /// looked at, each where it starts (`STARTS`): a header name's byte costs
    /// a compare per word still matching, not a pass over every word. A word
    /// in `m` matched each byte before `pos`, so `pos` is within it or at its
    /// NUL.
    fn words(m: u32, pos: u32, c: u8, lower: u8) -> u32 {
        let (mut left, mut out) = (m, 0);
        while left != 0 {
            let k = left.trailing_zeros() as usize;
            let start = STARTS.get(k).copied().unwrap_or(0) as usize;
            if WORDS.get(start + pos as usize) == Some(&(c | lower)) {
                out |= 1 << k;
            }
            left &= left - 1;
        }
        out
    }

    /// Takes one byte of a request (all but a body's data), RFC 9112's grammar:
    /// a line ends in CR LF or a bare LF; a method and a field name are tokens,
    /// a target visible ASCII, a field value visible bytes, spaces and tabs.
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn step(s: &mut Slot, b: u8) {
        let r = &mut s.req;
        if r.seen & CR != 0 {
            if b != b'\n' {
                return error(s, BAD_REQUEST);
            }
            r.seen &= !CR;
        } else if b == b'\r' {
            r.seen |= CR;
            return;
        }
        let p = s.p;
        if p < P_SIZE {
            r.head += 1;
            if r.head > MAX_HEAD {
                return error(
                    s,
                    if p < P_NAME {
                        URI_TOO_LONG
                    } else {
                        HEAD_TOO_LARGE
                    },
                );
            }
        } else {
            r.total += 1;
        }
        let i = p as usize;
        let token = b.is_ascii_alphanumeric() || has!(b"!#$%&'*+-.^_`|~", b);
        let visible = b > b' ' && b < 0x7f;
        let space = b == b' ' || b == b'\t';
        // The byte as a hex digit's value: 16 when it is not one.
        let lower = (b | 0x20).wrapping_sub(b'a');
        let hex = u32::from(if b.is_ascii_digit() {
            b - b'0'
        } else if lower < 6 {
            lower + 10
        } else {
            16
        });
        let class = (u8::from(token) * C_TOKEN)
            | (u8::from(visible) * C_VISIBLE)
            | (u8::from(visible || space || b >= 0x80) * C_FIELD)
            | (u8::from(hex < 16) * C_HEX);
        // A site keeps the target and four fields' values (hello/src/site.rs).
        #[cfg(serve_site)]
        match p {
            P_TARGET if visible => s.site.byte(site::TARGET, b),
            P_VALUE if b != b'\n' => s.site.byte(site_field(r.name), b),
            _ => {}
        }
        let next = if b == b'\n' {
            let next = match p {
                // One empty line before the request line is skipped.
                P_METHOD if r.pos == 0 && r.head == 1 => P_METHOD,
                P_VERSION => {
                    let version = words(r.m, r.pos, 0, 0);
                    r.seen |= version & HTTP11;
                    if version != 0 { P_NAME } else { P_BAD }
                }
                P_NAME if r.pos == 0 => return head_done(s),
                P_VALUE => {
                    if field_done(s) {
                        return;
                    }
                    P_NAME
                }
                P_SIZE | P_EXT if r.pos > 0 || p == P_EXT => {
                    if r.body == 0 {
                        P_TRAILER
                    } else {
                        P_DATA
                    }
                }
                P_DATA_END => P_SIZE,
                P_TRAILER if r.pos == 0 => {
                    s.state = SEND;
                    P_METHOD
                }
                P_TRAILER_LINE => P_TRAILER,
                _ => P_BAD,
            };
            s.req.pos = 0;
            next
        } else if r.pos > 0 && (SEP[i] == b || p == P_SIZE && space) {
            // The token ends.
            let word = words(r.m, r.pos, 0, 0);
            if p == P_METHOD {
                r.seen |= word & METHODS;
            }
            if p == P_NAME {
                r.name = word;
                #[cfg(serve_site)]
                s.site.line(site_field(word));
                r.num = 0;
                r.host = H_START;
                r.seen &= !WS;
            }
            r.pos = 0;
            p + 1
        } else if p == P_VALUE && space {
            if r.pos > 0 {
                r.seen |= WS;
            }
            if r.host != H_START {
                r.host |= H_SPACE;
            }
            p
        } else if CLASS[i] & class != 0 {
            if r.pos == 0 {
                r.m = SET.get(i).copied().unwrap_or(0);
            }
            if p == P_VALUE {
                r.host = host(r.host, b);
                if b == b',' {
                    // A list's element ends (RFC 9110 section 5.6.1): the
                    // next is read as a value of its own.
                    if !element_done(r) {
                        return error(s, BAD_REQUEST);
                    }
                    r.pos = 0;
                    r.num = 0;
                    r.seen &= !WS;
                    return;
                }
                if r.seen & WS != 0 {
                    // Text after a space: no word, no number, no Host.
                    r.m = 0;
                    r.num = NOT_NUM;
                }
                r.num = if hex < 10 && r.num != NOT_NUM {
                    (r.num * 10 + hex).min(MAX_BODY + 1)
                } else {
                    NOT_NUM
                };
            }
            if p == P_SIZE {
                r.body = r.body * 16 + hex;
                if r.body + r.total > MAX_BODY {
                    return error(s, TOO_LARGE);
                }
            }
            r.m = words(r.m, r.pos, b, if p >= P_NAME { 0x20 } else { 0 });
            r.pos += 1;
            // A version is one of two words, refused at its first other byte.
            if p == P_VERSION && r.m == 0 { P_BAD } else { p }
        } else {
            P_BAD
        };
        if next == P_BAD {
            return error(s, BAD_REQUEST);
        }
        s.p = next;
        if s.req.total > MAX_BODY {
            error(s, TOO_LARGE);
        }
    }

    /// A header line has ended: notes what it says. True when it was an error.
    fn field_done(s: &mut Slot) -> bool {
        let r = &mut s.req;
        // RFC 9112 section 3.2: a Host that is not valid gets 400.
        let bad = !element_done(r) || r.name == W_HOST && r.host & !H_SPACE >= H_V6;
        if r.name == W_HOST {
            r.seen |= if r.seen & HOST != 0 { HOSTS } else { HOST };
        }
        if bad {
            error(s, BAD_REQUEST);
        }
        bad
    }

    /// A field value, or one element of a list, has ended (at a comma or the
    /// line's end): notes what it says. False when it is an error.
    fn element_done(r: &mut Req) -> bool {
        let value = words(r.m, r.pos, 0, 0);
        match r.name {
            W_CONNECTION => r.seen |= value & (CONN_CLOSE | CONN_KEEP),
            W_CONTENT_LENGTH => {
                // 1*DIGIT, and the same in every element and line.
                if r.pos == 0 || r.num == NOT_NUM || r.length != 0 && r.length != r.num + 1 {
                    return false;
                }
                r.length = r.num + 1;
            }
            W_TRANSFER_ENCODING => {
                // One coding, chunked, is what this reads.
                r.seen |= if r.seen & (CHUNKED | TE_BAD) == 0 && value & W_CHUNKED != 0 {
                    CHUNKED
                } else {
                    TE_BAD
                };
            }
            _ => {}
        }
        true
    }

    /// `set` with the bytes in `chars` added: bit n % 64 of word n / 64 for
    /// byte n (below 128). Two u64s, not a u128: its shifts are library calls.
    const fn bits(mut set: [u64; 2], chars: &[u8]) -> [u64; 2] {
        let mut i = 0;
        while i < chars.len() {
            set[chars[i] as usize / 64] |= 1 << (chars[i] % 64);
            i += 1;
        }
        set
    }

    /// Whether byte `b` is in `set` (made by [`bits`]).
    fn has(set: [u64; 2], b: u8) -> bool {
        b < 128 && set[b as usize / 64] >> (b % 64) & 1 != 0
    }

    const NONE: [u64; 2] = [0; 2];
    const ALNUM: [u64; 2] = bits(
        NONE,
        b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    );

    /// The Host state (`H_*`) after byte `b` of a field value.
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn host(h: u8, b: u8) -> u8 {
        /// A reg-name's bytes: unreserved, pct-encoded (`%`) and sub-delims.
        const REG_NAME: [u64; 2] = bits(ALNUM, b"-._~%!$&'()*+,;=");
        /// The bytes each state takes, by `H_*`; any other makes it `H_BAD`.
        const TAKES: [[u64; 2]; 5] = [
            bits(REG_NAME, b"[:"),
            bits(REG_NAME, b":"),
            bits(NONE, b":"),
            bits(NONE, b"0123456789"),
            bits(NONE, b"0123456789abcdefABCDEF:.]"),
        ];
        match TAKES.get(h as usize) {
            Some(&t) if has(t, b) => match b {
                b'[' => H_V6,
                b']' => H_END,
                b':' if h != H_V6 => H_PORT,
                _ if h == H_START => H_NAME,
                _ => h,
            },
            _ => H_BAD,
        }
    }

    /// The head has ended: the response, and how the body is framed.
    #[cfg_attr(not(target_arch = "powerpc64"), inline(never))]
    fn head_done(s: &mut Slot) {
        let r = &mut s.req;
        let seen = r.seen;
        let http11 = seen & HTTP11 != 0;
        let te = seen & (CHUNKED | TE_BAD) != 0;
        // RFC 9112 section 3.2: one Host in HTTP/1.1, never two. Section 6.1 and
        // 6.3: Transfer-Encoding with Content-Length, or in HTTP/1.0, is faulty
        // framing; a coding other than one chunked is not implemented.
        let reply = if seen & HOSTS != 0
            || http11 && seen & HOST == 0
            || te && (r.length != 0 || !http11)
        {
            BAD_REQUEST
        } else if seen & TE_BAD != 0 {
            NOT_IMPLEMENTED
        } else if r.length > MAX_BODY + 1 {
            TOO_LARGE
        } else if seen & (IS_GET | IS_HEAD) == 0 {
            NOT_ALLOWED
        } else {
            OK
        };
        if reply != OK {
            return error(s, reply);
        }
        let close = seen & CONN_CLOSE != 0;
        s.reply = OK;
        #[cfg(serve_site)]
        s.site.answer(&baked::SITE, seen & IS_GET != 0);
        s.flags = (u8::from(seen & IS_HEAD != 0) * HEAD_ONLY)
            | if http11 && !close {
                0
            } else if !http11 && !close && seen & CONN_KEEP != 0 {
                KEEPS_1_0
            } else {
                CLOSES
            };
        if te {
            s.p = P_SIZE;
        } else if r.length > 1 {
            r.body = r.length - 1;
            s.p = P_DATA;
        } else {
            s.state = SEND;
        }
    }

    /// The `site::State` index of a field name's word (`site::SKIP` for others).
    #[cfg(serve_site)]
    fn site_field(name: u32) -> usize {
        match name >> 11 {
            1 => site::IF_NONE_MATCH,
            2 => site::RANGE,
            4 => site::ACCEPT_ENCODING,
            8 => site::IF_RANGE,
            _ => site::SKIP,
        }
    }

    /// Sends error `reply`, then closes.
    fn error(s: &mut Slot, reply: u8) {
        s.reply = reply;
        s.flags = CLOSES;
        s.state = SEND;
    }
}
