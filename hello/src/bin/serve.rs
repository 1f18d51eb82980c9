//! `serve`: the smallest Docker web server. It serves one page, baked in at
//! build time, to every `GET` and `HEAD`, on TCP port 8080 (or the one built
//! in), on every IPv4 and IPv6 address through one dual-stack socket.
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
//! per further CPU, and serves as well; each process waits in `epoll` on the
//! shared listening socket (EPOLLEXCLUSIVE: one wakes per connection), a
//! signalfd, and its connections, edge-triggered. A connection is a slot in a
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
//! the call that failed (98 `EADDRINUSE`: the port is taken; 13 `EACCES`: a
//! port below 1024 without the privilege; 97 `EAFNOSUPPORT`: no IPv6); 2 for
//! an argument other than `health`.
#![no_std]
#![no_main]
#![deny(unsafe_code)] // `_start`'s attribute and the mapped tables opt in

// The library brings the panic handler, also where `server` is left out.
use hello as _;

// The system calls it needs exist for x86-64 and arm64 (src/sys/calls.rs);
// `cargo xtask dist` builds it for those platforms only (linker/serve-<arch>.ld),
// and on the others this file is checked (clippy) but has no program in it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod server {
    use core::mem::MaybeUninit;
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
    /// Milliseconds a response under way has to finish after SIGTERM.
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
    const CLOSE: &[u8] = b"Connection: close\r\n\r\n";
    const KEEP: &[u8] = b"\r\n";
    const KEEP_ALIVE: &[u8] = b"Connection: keep-alive\r\n\r\n";

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

    /// Where the parser is in a request (`p`), RFC 9112's grammar: before the
    /// request line (one empty line may come first), after that empty line, the
    /// method, the target, the version; the start of a header line (or the empty
    /// line that ends the head), a field name, its value. Then a body: a chunk
    /// size (no digit yet, some), a chunk extension, data (`body` bytes, also a
    /// Content-Length body), the line end after it, a trailer line's start, its
    /// field name, its value. Zero is a new request.
    const P_START: u8 = 0;
    const P_METHOD0: u8 = 1;
    const P_METHOD: u8 = 2;
    const P_TARGET: u8 = 3;
    const P_VERSION: u8 = 4;
    const P_LINE: u8 = 5;
    const P_NAME: u8 = 6;
    const P_VALUE: u8 = 7;
    const P_SIZE0: u8 = 8;
    const P_SIZE: u8 = 9;
    const P_EXT: u8 = 10;
    const P_DATA: u8 = 11;
    const P_DATA_END: u8 = 12;
    const P_TRAILER: u8 = 13;
    const P_TRAILER_LINE: u8 = 14;
    const P_TRAILER_NAME: u8 = 15;

    /// What the parser has seen of a request (`seen`).
    const HTTP11: u16 = 1;
    const HOST: u16 = 2;
    const HOSTS: u16 = 4;
    const CONN_CLOSE: u16 = 8;
    const CONN_KEEP: u16 = 16;
    const CHUNKED: u16 = 32;
    const TE_BAD: u16 = 64;
    const IS_GET: u16 = 128;
    const IS_HEAD: u16 = 256;
    /// A CR came: the next byte must be LF.
    const CR: u16 = 512;
    /// A space or tab came after a value's first byte.
    const WS: u16 = 1024;

    /// The words the parser looks for, each ending in NUL: methods (matched
    /// exactly), then field names and values (matched without case). Bit k of
    /// `m` is the word at `WORD_AT[k]`.
    #[cfg(not(serve_site))]
    const WORDS: &[u8] =
        b"GET\0HEAD\0host\0connection\0content-length\0transfer-encoding\0close\0keep-alive\0chunked\0";
    #[cfg(not(serve_site))]
    const WORD_AT: [usize; 9] = [0, 4, 9, 14, 25, 40, 58, 64, 75];
    /// A site also reads the four fields it keeps (`site::State`).
    #[cfg(serve_site)]
    const WORDS: &[u8] =
        b"GET\0HEAD\0host\0connection\0content-length\0transfer-encoding\0close\0keep-alive\0chunked\0\
        if-none-match\0range\0accept-encoding\0if-range\0";
    #[cfg(serve_site)]
    const WORD_AT: [usize; 13] = [0, 4, 9, 14, 25, 40, 58, 64, 75, 83, 97, 103, 119];
    /// The field names a site keeps, by `site::State` index: bits 9 to 12.
    #[cfg(serve_site)]
    const SITE_NAMES: u16 = 0xf << 9;
    #[cfg(not(serve_site))]
    const SITE_NAMES: u16 = 0;
    const W_GET: u16 = 1;
    const W_HEAD: u16 = 2;
    const W_HOST: u16 = 4;
    const W_CONNECTION: u16 = 8;
    const W_CONTENT_LENGTH: u16 = 16;
    const W_TRANSFER_ENCODING: u16 = 32;
    const W_CLOSE: u16 = 64;
    const W_KEEP_ALIVE: u16 = 128;
    const W_CHUNKED: u16 = 256;
    const METHODS: u16 = W_GET | W_HEAD;
    const NAMES: u16 = W_HOST | W_CONNECTION | W_CONTENT_LENGTH | W_TRANSFER_ENCODING | SITE_NAMES;
    const VALUES: u16 = W_CLOSE | W_KEEP_ALIVE | W_CHUNKED;
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
        seen: u16,
        /// The words still matching the current token, and those its field
        /// name matched.
        m: u16,
        name: u16,
        /// Bytes of the current token; of the head so far.
        pos: u16,
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
        p: P_START,
        held: 0,
        off: 0,
        deadline: 0,
        sent: 0,
        date: 0,
        req: NEW,
        #[cfg(serve_site)]
        site: site::State::NEW,
    };

    #[cfg(target_arch = "x86_64")]
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
        // x86-64 enters `_start` with the stack 16-byte aligned, where code after
        // a call expects it 8 past that; LLVM's -stackrealign does not reach
        // rustc's functions. A 32-byte-aligned local makes LLVM realign this
        // frame in the prologue, so its aligned 16-byte stores are aligned, and
        // so is every frame below it.
        #[cfg(target_arch = "x86_64")]
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

        // Non-blocking: every process takes connections until EAGAIN.
        let listener = check(sys::socket(
            sys::AF_INET6,
            sys::SOCK_STREAM | sys::SOCK_NONBLOCK,
            0,
        ));
        // Three options no new TCP socket refuses (valid levels, names and sizes),
        // so their results are not checked (tests/serve/ reaches the server
        // over both IPv4 and IPv6, which the second one makes possible).
        // A restarted server can bind while old connections sit in TIME_WAIT.
        sys::setsockopt(listener, sys::SOL_SOCKET, sys::SO_REUSEADDR, &1u32);
        // Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d, whatever the
        // net.ipv6.bindv6only default is.
        sys::setsockopt(listener, sys::IPPROTO_IPV6, sys::IPV6_V6ONLY, &0u32);
        // Pipelined responses go out at once, not after the previous one's ACK;
        // Linux copies it to every accepted socket.
        sys::setsockopt(listener, sys::IPPROTO_TCP, sys::TCP_NODELAY, &1u32);
        // struct sockaddr_in6: family, port (big-endian), flow info, address (::), scope.
        let mut addr = [0u8; 28];
        addr[0] = sys::AF_INET6 as u8;
        addr[2] = PORT[0];
        addr[3] = PORT[1];
        check(sys::bind(listener, &addr));
        check(sys::listen(listener, BACKLOG));

        // One process per CPU this one may run on.
        let mut mask = [0u64; 4];
        sys::cpus(&mut mask);
        let cpus: u32 = mask.iter().map(|w| w.count_ones()).sum();
        let mut workers = [0u32; MAX_WORKERS];
        let mut n = 0;
        let first = sys::getpid();
        while n + 1 < (cpus as usize).min(MAX_WORKERS) {
            let pid = sys::fork();
            if pid == 0 {
                // A worker ends with the first process, whatever ends that;
                // if that came before this line took effect, it ends now.
                sys::parent_death_signal(sys::SIGKILL);
                if sys::getppid() != first {
                    sys::exit(0)
                }
                serve(listener, slots, &[]);
                sys::exit(0)
            }
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
        let timeout: [u64; 2] = [0, 900_000];
        sys::setsockopt(fd, sys::SOL_SOCKET, sys::SO_SNDTIMEO, &timeout);
        sys::setsockopt(fd, sys::SOL_SOCKET, sys::SO_RCVTIMEO, &timeout);
        // struct sockaddr_in: family, port (big-endian), 127.0.0.1, zero padding.
        let addr = [2, 0, PORT[0], PORT[1], 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut got = [0u8; 12];
        #[cfg(not(serve_site))]
        let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        // A site's own path: `/`, or its first file when it has no index.html.
        #[cfg(serve_site)]
        let request = baked::HEALTH;
        let ok = sys::connect(fd, &addr) == 0
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
        // -4095..=-1 is -errno (ENOMEM): exit with it.
        check(addr.min(0));
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
        sys::epoll_ctl(
            ep,
            sys::EPOLL_CTL_ADD,
            signals,
            sys::EPOLLIN,
            signals as u64,
        );
        let listen = |op| {
            sys::epoll_ctl(
                ep,
                op,
                listener,
                sys::EPOLLIN | sys::EPOLLEXCLUSIVE,
                listener as u64,
            )
        };
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
            let ms = s * 1000 + ns / 1_000_000;
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
                        sys::epoll_ctl(
                            ep,
                            sys::EPOLL_CTL_ADD,
                            c as u32,
                            sys::EPOLLIN | sys::EPOLLOUT | sys::EPOLLET,
                            c as u64,
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
                    let buf = buffers
                        .chunks_exact_mut(READ)
                        .nth(fd as usize)
                        .unwrap_or_default();
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
                slot.p = P_START;
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
            if slot.p >= P_SIZE0 {
                // A body moves: progress.
                slot.deadline = deadline;
            }
            let data = scratch.get(..n as usize).unwrap_or_default();
            let used = feed(slot, data);
            // What follows a request whose response has to wait: kept. Swaps,
            // not copies: a copy loop becomes `memcpy`, which no libc provides here.
            let rest = data.len() - used;
            for (d, s) in buf.iter_mut().zip(&mut scratch[used..n as usize]) {
                core::mem::swap(d, s);
            }
            slot.held = rest as u16;
        }
    }

    /// Sends what is left of the slot's response: (the `writev` result, the
    /// response's whole length).
    fn send(fd: u32, slot: &Slot) -> (isize, usize) {
        let date = date(slot.date);
        let tail = if slot.flags & CLOSES != 0 {
            CLOSE
        } else if slot.flags & KEEPS_1_0 != 0 {
            KEEP_ALIVE
        } else {
            KEEP
        };
        #[cfg(not(serve_site))]
        let (first, second, body): (&[u8], &[u8], &[u8]) = match slot.reply {
            OK if slot.flags & HEAD_ONLY != 0 => (&HEAD, &[], &[]),
            OK => (&HEAD, &[], &PAGE),
            reply => (status(reply), ERROR_HEAD, &[]),
        };
        let mut skip = slot.sent as usize;
        let mut total = 0;
        #[cfg(not(serve_site))]
        let iov = [first, second, &date[..], tail, body].map(|part| {
            let s = skip.min(part.len());
            skip -= s;
            total += part.len();
            IoVec::new(&part[s..])
        });
        // A site's answer: status line, validators, representation headers,
        // lengths, then the date and the (part of the) file.
        #[cfg(serve_site)]
        let mut num = [0u8; 96];
        #[cfg(serve_site)]
        let iov = {
            let ([a, b, c, d], body) = match slot.reply {
                OK => site::head(&baked::SITE, &slot.site.answer, &mut num),
                reply => ([status(reply), ERROR_HEAD, &[], &[]], &[][..]),
            };
            let body = if slot.flags & HEAD_ONLY != 0 {
                &[]
            } else {
                body
            };
            [a, b, c, d, &date[..], tail, body].map(|part| {
                let s = skip.min(part.len());
                skip -= s;
                total += part.len();
                IoVec::new(&part[s..])
            })
        };
        (sys::writev(fd, &iov), total)
    }

    /// An error's status line (and, for 405, the Allow header).
    fn status(reply: u8) -> &'static [u8] {
        match reply {
            NOT_ALLOWED => b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n",
            TOO_LARGE => b"HTTP/1.1 413 Content Too Large\r\n",
            URI_TOO_LONG => b"HTTP/1.1 414 URI Too Long\r\n",
            HEAD_TOO_LARGE => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            NOT_IMPLEMENTED => b"HTTP/1.1 501 Not Implemented\r\n",
            _ => b"HTTP/1.1 400 Bad Request\r\n",
        }
    }

    /// `secs` (since 1970) as an IMF-fixdate (RFC 9110 section 5.6.7) and CR LF:
    /// `Sun, 06 Nov 1994 08:49:37 GMT`. Years and months are counted off one by
    /// one: a few dozen steps, fewer bytes than the closed formulas.
    fn date(secs: u32) -> [u8; 31] {
        const DAYS: &[u8; 21] = b"ThuFriSatSunMonTueWed";
        const MONTHS: &[u8; 36] = b"JanFebMarAprMayJunJulAugSepOctNovDec";
        const LENGTHS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT\r\n";
        let mut days = secs / 86400;
        let w = (days % 7 * 3) as usize;
        let mut year = 1970;
        // Leap years up to 2099 are the multiples of 4.
        while days >= 365 + u32::from(year % 4 == 0) {
            days -= 365 + u32::from(year % 4 == 0);
            year += 1;
        }
        let mut month = 0;
        for (m, len) in LENGTHS.iter().enumerate() {
            let len = len + u32::from(m == 1 && year % 4 == 0);
            if days < len {
                break;
            }
            days -= len;
            month += 3;
        }
        out[..3].copy_from_slice(&DAYS[w..w + 3]);
        out[8..11].copy_from_slice(&MONTHS[month..month + 3]);
        let time = secs % 86400;
        // Two digits each, at their places in `out`.
        for (at, n) in [
            (5, days + 1),
            (12, year / 100),
            (14, year % 100),
            (17, time / 3600),
            (20, time / 60 % 60),
            (23, time % 60),
        ] {
            out[at] = b'0' + (n / 10) as u8;
            out[at + 1] = b'0' + (n % 10) as u8;
        }
        out
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
    /// there. `lower` is 0x20 to match without case.
    fn words(m: u16, pos: u16, c: u8, lower: u8) -> u16 {
        let mut out = 0;
        for (k, at) in WORD_AT.iter().enumerate() {
            if WORDS.get(at + pos as usize) == Some(&(c | lower)) {
                out |= 1 << k;
            }
        }
        m & out
    }

    /// Takes one byte of a request (all but a body's data), RFC 9112's grammar:
    /// a line ends in CR LF or a bare LF; a method and a field name are tokens,
    /// a target visible ASCII, a field value visible bytes, spaces and tabs.
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
        if p < P_SIZE0 {
            r.head += 1;
            if r.head > MAX_HEAD {
                return error(
                    s,
                    if p < P_LINE {
                        URI_TOO_LONG
                    } else {
                        HEAD_TOO_LARGE
                    },
                );
            }
        } else {
            r.total += 1;
        }
        let lf = b == b'\n';
        let token = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let field = b >= b' ' && b != 0x7f || b == b'\t';
        let space = b == b' ' || b == b'\t';
        // A site keeps the target and four fields' values (hello/src/site.rs).
        #[cfg(serve_site)]
        match p {
            P_TARGET if b > b' ' && b < 0x7f => s.site.byte(site::TARGET, b),
            P_VALUE if field => s.site.byte(site_field(r.name), b),
            _ => {}
        }
        s.p = match p {
            P_START if lf => P_METHOD0,
            P_START | P_METHOD0 | P_METHOD if token => {
                if p != P_METHOD {
                    r.m = METHODS;
                    r.pos = 0;
                }
                r.m = words(r.m, r.pos, b, 0);
                r.pos += 1;
                P_METHOD
            }
            P_METHOD if b == b' ' => {
                let m = words(r.m, r.pos, 0, 0);
                r.seen |= if m & W_GET != 0 { IS_GET } else { 0 }
                    | if m & W_HEAD != 0 { IS_HEAD } else { 0 };
                r.pos = 0;
                P_TARGET
            }
            P_TARGET if b > b' ' && b < 0x7f => {
                r.pos = 1;
                P_TARGET
            }
            P_TARGET if b == b' ' && r.pos > 0 => {
                r.pos = 0;
                P_VERSION
            }
            P_VERSION if r.pos < 7 && Some(&b) == b"HTTP/1.".get(r.pos as usize) => {
                r.pos += 1;
                P_VERSION
            }
            P_VERSION if r.pos == 7 && (b == b'0' || b == b'1') => {
                r.seen |= u16::from(b == b'1') * HTTP11;
                r.pos += 1;
                P_VERSION
            }
            P_VERSION | P_VALUE if lf && (p == P_VALUE || r.pos == 8) => {
                if p == P_VALUE && field_done(s) {
                    return;
                }
                P_LINE
            }
            P_LINE if lf => return head_done(s),
            P_LINE | P_NAME if token => {
                if p == P_LINE {
                    r.m = NAMES;
                    r.pos = 0;
                }
                r.m = words(r.m, r.pos, b, 0x20);
                r.pos += 1;
                P_NAME
            }
            P_NAME if b == b':' => {
                r.name = words(r.m, r.pos, 0, 0);
                #[cfg(serve_site)]
                s.site.line(site_field(r.name));
                r.m = VALUES;
                r.pos = 0;
                r.num = 0;
                r.host = H_START;
                r.seen &= !WS;
                P_VALUE
            }
            P_VALUE if space => {
                if r.pos > 0 {
                    r.seen |= WS;
                }
                if r.host != H_START {
                    r.host |= H_SPACE;
                }
                P_VALUE
            }
            P_VALUE if field => {
                r.host = host(r.host, b);
                if b == b',' {
                    // A list's element ends (RFC 9110 section 5.6.1): the next
                    // is read as a value of its own.
                    if !element_done(r) {
                        return error(s, BAD_REQUEST);
                    }
                    r.m = VALUES;
                    r.pos = 0;
                    r.num = 0;
                    r.seen &= !WS;
                    s.p = P_VALUE;
                    return;
                }
                if r.seen & WS != 0 {
                    // Text after a space: no word, no number, no Host.
                    r.m = 0;
                    r.num = NOT_NUM;
                }
                r.num = match (b as char).to_digit(10) {
                    Some(d) if r.num != NOT_NUM => (r.num * 10 + d).min(MAX_BODY + 1),
                    _ => NOT_NUM,
                };
                r.m = words(r.m, r.pos, b, 0x20);
                r.pos += 1;
                P_VALUE
            }
            P_SIZE0 | P_SIZE if b.is_ascii_hexdigit() => {
                r.body = r.body * 16 + (b as char).to_digit(16).unwrap_or(0);
                if r.body + r.total > MAX_BODY {
                    return error(s, TOO_LARGE);
                }
                P_SIZE
            }
            P_SIZE if b == b';' || space => P_EXT,
            P_SIZE | P_EXT if lf => {
                if r.body == 0 {
                    P_TRAILER
                } else {
                    P_DATA
                }
            }
            P_EXT | P_TRAILER_LINE if field => p,
            // A trailer line is a field line (RFC 9112 section 7.1.2): a token,
            // then a colon; its value is dropped.
            P_TRAILER | P_TRAILER_NAME if token => P_TRAILER_NAME,
            P_TRAILER_NAME if b == b':' => P_TRAILER_LINE,
            P_DATA_END if lf => P_SIZE0,
            P_TRAILER_LINE if lf => P_TRAILER,
            P_TRAILER if lf => {
                s.state = SEND;
                P_START
            }
            _ => return error(s, BAD_REQUEST),
        };
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
            W_CONNECTION => {
                r.seen |= if value & W_CLOSE != 0 { CONN_CLOSE } else { 0 }
                    | if value & W_KEEP_ALIVE != 0 {
                        CONN_KEEP
                    } else {
                        0
                    }
            }
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

    /// The Host state (`H_*`) after byte `b` of a field value.
    fn host(h: u8, b: u8) -> u8 {
        const NONE: [u64; 2] = [0; 2];
        /// A reg-name's bytes: unreserved, pct-encoded (`%`) and sub-delims.
        const REG_NAME: [u64; 2] = bits(
            NONE,
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-._~%!$&'()*+,;=",
        );
        /// The bytes each state takes, by `H_*`; any other makes it `H_BAD`.
        const TAKES: [[u64; 2]; 5] = [
            bits(REG_NAME, b"[:"),
            bits(REG_NAME, b":"),
            bits(NONE, b":"),
            bits(NONE, b"0123456789"),
            bits(NONE, b"0123456789abcdefABCDEF:.]"),
        ];
        match TAKES.get(h as usize) {
            Some(t) if b < 128 && t[b as usize / 64] >> (b % 64) & 1 != 0 => match b {
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
            s.p = P_SIZE0;
        } else if r.length > 1 {
            r.body = r.length - 1;
            s.p = P_DATA;
        } else {
            s.state = SEND;
        }
    }

    /// The `site::State` index of a field name's word (`site::SKIP` for others).
    #[cfg(serve_site)]
    fn site_field(name: u16) -> usize {
        match name >> 9 {
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
